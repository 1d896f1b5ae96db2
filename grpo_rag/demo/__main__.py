"""`python -m grpo_rag.demo`: the offline demo (`make demo`)."""

from grpo_rag.demo.quickstart import main

main()
