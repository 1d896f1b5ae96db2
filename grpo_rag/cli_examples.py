"""One example line per `grpo-rag` command, shown at the end of its `--help` (a test checks every command)."""

EXAMPLES: dict[str, str] = {
    "index": "grpo-rag index --corpus data/demo/corpus.jsonl --out runs/quickstart/index",
    "ingest": "grpo-rag ingest docs/ --out data/mine/corpus.jsonl --domain manuals --chunk-tokens 200",
    "import": "grpo-rag import squad dev-v2.0.json --out data/squad --domain wiki",
    "retrieval-report": "grpo-rag retrieval-report --corpus data/real/corpus.jsonl --qa data/real/heldout.jsonl --k 1,5,10",
    "bootstrap": "grpo-rag bootstrap configs/quickstart.yaml",
    "train": "grpo-rag train configs/smollm2.yaml training.max_steps=30 training.report_to=tensorboard",
    "sft": "grpo-rag sft configs/smollm2.yaml --steps 60 --learning-rate 3e-4 --out runs/demo/warm-start",
    "eval": "grpo-rag eval configs/smollm2.yaml --checkpoint runs/demo --out runs/demo/eval",
    "train-experts": "grpo-rag train-experts configs/multidomain.yaml --domains pubmedqa,wikipedia",
    "route-train": "grpo-rag route-train configs/multidomain.yaml --out runs/router.npz",
    "compare": "grpo-rag compare configs/compare.yaml --out runs/compare",
    "model": "grpo-rag model install smollm2-135m-instruct",
    "rewards": "grpo-rag rewards",
    "demo-data": "grpo-rag demo-data --out data/demo --seed 0",
    "plot": "grpo-rag plot runs/demo",
    "report": "grpo-rag report runs/demo",
}
