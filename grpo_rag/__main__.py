"""`python -m grpo_rag ...` (and `accelerate launch -m grpo_rag train CONFIG`) run the CLI."""

import sys

from grpo_rag.cli import main

sys.exit(main())
