"""The real-model demo's summary rows and table (the run itself is `make demo`, minutes long)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grpo_rag.demo.real import gain_intervals, gains_of, row, span_exact_match, table, verdict


def _metrics(em: float, lenient: float) -> dict:
    per = {d: {"lenient_exact_match": lenient, "lenient_f1": lenient, "n": 2} for d in ("a", "b")}
    return {
        "exact_match": em,
        "f1": em,
        "lenient_exact_match": lenient,
        "lenient_f1": lenient + 0.1,
        "well_formed": 1.0,
        "recall_at_k": 0.5,
        "n": 4,
        "per_domain": per,
    }


def _write_predictions(folder: Path, em: list[float], domain: str = "d") -> Path:
    """A predictions.jsonl whose every question scores `em[i]` (EM = F1, strict = lenient)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "id": f"q{i}",
            "domain": domain,
            "exact_match": x,
            "f1": x,
            "lenient_exact_match": x,
            "lenient_f1": x,
        }
        for i, x in enumerate(em)
    ]
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_rows_keep_the_contract_keys_with_lenient_headline_figures() -> None:
    r = row(_metrics(0.25, 0.5))
    assert r["exact_match"] == 0.5 and r["f1"] == 0.6 and r["strict_exact_match"] == 0.25
    assert r["per_domain"]["a"] == {"exact_match": 0.5, "f1": 0.5, "n": 2}
    text = table({"base / BM25": row(_metrics(0.0, 0.1)), "GRPO + LoRA / BM25": r})
    lines = text.splitlines()
    assert lines[0] == "| model | passages | EM | F1 | strict EM | EM a | EM b |"
    assert lines[3] == "| GRPO + LoRA | BM25 | 0.500 | 0.600 | 0.250 | 0.500 | 0.500 |"


def test_span_exact_match_leaves_out_the_yes_no_domains() -> None:
    m = _metrics(0.25, 0.5)
    m["per_domain"]["yn"] = {
        "lenient_exact_match": 1.0,
        "lenient_f1": 1.0,
        "n": 6,
    }  # a constant "yes" paid off
    m["label_questions"] = {"yn": {"n": 6, "majority_label": "yes"}}
    r = row(m)
    assert r["label_domains"] == ["yn"]
    assert span_exact_match(r) == 0.5  # a and b only, not the 1.0 of "yn"
    assert span_exact_match(row(_metrics(0.25, 0.3))) == 0.3  # no label domain: every domain counts
    only_labels = row(m)
    only_labels["per_domain"] = {"yn": only_labels["per_domain"]["yn"]}
    assert span_exact_match(only_labels) is None


def test_gain_intervals_pair_the_trained_adapter_with_the_warm_start_and_the_baseline(tmp_path: Path) -> None:
    def write(name: str, em: list[float]) -> Path:
        return _write_predictions(tmp_path / name, em)

    grpo, base = write("grpo", [1, 1, 1, 0] * 10), write("base", [0] * 40)
    out = gain_intervals(grpo, base, write("warm", [1, 0, 1, 0] * 10))
    warm = out["exact_match_over_warm_start"]
    assert warm["difference"] == 0.25 and warm["changed"] == 10 and warm["questions"] == 40
    assert 0.1 < warm["ci95"][0] < 0.25 < warm["ci95"][1] <= 0.45  # 10 of 40 answers gained: SE 0.07
    assert out["f1_over_baseline"]["difference"] == 0.75 and out["f1_over_baseline"]["changed"] == 30
    cold = gain_intervals(grpo, base)  # no warm start: only the gains over the prompted model
    assert sorted(cold) == ["exact_match_over_baseline", "f1_over_baseline"]
    assert cold["exact_match_over_baseline"]["difference"] == 0.75


def test_gains_and_verdict_name_the_warm_start_only_when_there_is_one() -> None:
    base, warm, trained = row(_metrics(0.0, 0.1)), row(_metrics(0.2, 0.3)), row(_metrics(0.4, 0.5))
    assert gains_of(base, trained, None) == {"exact_match": 0.4, "f1": 0.4}
    with_warm = gains_of(base, trained, warm)
    assert with_warm["exact_match_over_warm_start"] == 0.2
    interval = {"ci95": [0.1, 0.3], "changed": 5}
    cold = verdict({"exact_match": 0.4, "f1": 0.4}, {"exact_match_over_baseline": interval}, 20, False)
    assert "all of it is GRPO's" in cold and "[+10.0, +30.0]" in cold and "vs the warm start" not in cold
    hot = verdict(with_warm, {"exact_match_over_warm_start": interval}, 20, True)
    assert "vs the warm start: EM +20.0" in hot and "5 of 20 answers changed" in hot


def _fake_steps(monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]) -> None:
    """Replace the demo's CLI steps: each eval writes a metrics.json and predictions.jsonl into its --out."""
    import grpo_rag.demo.real as real
    import grpo_rag.reporting.commands as commands

    scores = {"eval-base": [0, 0, 0, 1], "eval": [1, 1, 0, 1]}  # the trained adapter beats the base model

    def step(name: str, argv: list[str], timings: dict[str, float]) -> None:
        calls.append(argv)
        timings[name] = 0.0
        if argv[0] == "eval":
            out = Path(argv[argv.index("--out") + 1])
            key = "warm-start" if out.parent.name == "warm-start" else out.name
            em = scores.get(key, [0, 1, 0, 1])  # other evals: the warm start, closed-book, oracle
            _write_predictions(out, em, domain="a")
            (out / "metrics.json").write_text(json.dumps(_metrics(sum(em) / 4, sum(em) / 4)))

    monkeypatch.setattr(real, "step", step)
    monkeypatch.setattr(commands, "report_run", lambda run: Path(run) / "run_report.md")


def test_demo_without_a_warm_start_trains_grpo_from_the_base_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grpo_rag.demo.real import main

    calls: list[list[str]] = []
    _fake_steps(monkeypatch, calls)
    assert main(["--out", str(tmp_path / "run"), "--sft-steps", "0"]) == 0
    assert not any(c[0] == "sft" for c in calls)
    train = next(c for c in calls if c[0] == "train")
    assert not any(a.startswith("lora.init_adapter=") for a in train)
    summary = json.loads((tmp_path / "run" / "demo_summary.json").read_text())
    assert "warm_start" not in summary["metrics"] and summary["warm_start_steps"] == 0
    assert summary["gains"] == {"exact_match": 0.5, "f1": 0.5}
    assert sorted(summary["gain_intervals"]) == ["exact_match_over_baseline", "f1_over_baseline"]


def test_demo_with_a_warm_start_continues_its_adapter_and_reports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grpo_rag.demo.real import main

    calls: list[list[str]] = []
    _fake_steps(monkeypatch, calls)
    assert main(["--out", str(tmp_path / "run"), "--sft-steps", "60", "--seed", "3"]) == 0
    sft = next(c for c in calls if c[0] == "sft")
    assert sft[sft.index("--steps") + 1] == "60" and "training.seed=3" in sft
    train = next(c for c in calls if c[0] == "train")
    assert f"lora.init_adapter={tmp_path / 'run' / 'warm-start' / 'adapter'}" in train
    summary = json.loads((tmp_path / "run" / "demo_summary.json").read_text())
    assert summary["metrics"]["warm_start"]["exact_match"] == 0.5
    assert summary["gains"]["exact_match_over_warm_start"] == 0.25
    assert "exact_match_over_warm_start" in summary["gain_intervals"]


def test_demo_refuses_a_negative_warm_start(capsys: pytest.CaptureFixture[str]) -> None:
    from grpo_rag.demo.real import main

    with pytest.raises(SystemExit):
        main(["--sft-steps", "-1"])
    assert "--sft-steps must be 0 (no warm start) or more, got -1" in capsys.readouterr().err
