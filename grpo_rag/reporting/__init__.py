"""What a run did, in one place: its plots (`grpo-rag plot RUN`) and its report (`grpo-rag report RUN`)."""
