"""`python -m grpo_rag.bench`: the benchmark (`make bench`)."""

from grpo_rag.bench.run import main

raise SystemExit(main())
