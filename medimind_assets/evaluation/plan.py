"""What an evaluation run needs, checked before any model loads, and what it records after. No Dagster, no torch.

`plan_evaluation` reads the store (the newest adapter, verified; the current base model; the dataset) and
refuses, with the reason, an adapter trained on another base or on another dataset than the one on disk.
`promotion_record` is what `adapters/current.json` carries when the gate passes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medimind_assets.data import mediqa
from medimind_assets.data.rows import read_dataset
from medimind_assets.data.sources import MEDIQA
from medimind_assets.data.validation import refuse_if_invalid
from medimind_assets.digests import file_digests, sha256_file
from medimind_assets.errors import MediMindError
from medimind_assets.evaluation.settings import EvaluationSettings
from medimind_assets.integrity import SIGNED_ADAPTER_FILES, IntegrityError, read_summary, verify_digests
from medimind_assets.llm.template import template_from_summary
from medimind_assets.models import read_current_base_model
from medimind_assets.models.model_dir import config_digest, model_context, tokenizer_digest
from medimind_assets.promotion import AdapterRef, base_weights_changed, read_latest_adapter
from medimind_assets.store import TRAINING_SUMMARY, ArtifactStore

BASE_MODEL_KEYS = ("name", "path", "source", "revision", "content_hash", "architecture", "model_type")


class EvaluationRefused(MediMindError, ValueError):
    """The inputs cannot be evaluated as they are; the message says why and what to re-materialize."""


@dataclass
class EvaluationPlan:
    adapter: AdapterRef
    base_model: dict[str, Any]  # the manifest's identifying keys (BASE_MODEL_KEYS)
    dataset_path: Path
    dataset_version: str
    trained_on_dataset_version: str | None
    prompt_template: str
    out_dir: Path
    settings: EvaluationSettings
    ranking: dict[str, Any] | None = None  # the MEDIQA test files to rank (and to fit on), when ranking is on
    inputs: dict[str, Path] = field(default_factory=dict)  # what the evaluating process reads outside the store
    adapter_files: dict[str, str] = field(default_factory=dict)  # the evaluated adapter's files, as planned

    @property
    def extras(self) -> dict[str, Any]:
        """What the evaluation script (`evaluate_lora`) receives through Pipes."""
        return {
            "base_model_dir": str(self.base_model["path"]),
            "adapter_dir": str(self.adapter.path),
            "dataset_path": str(self.dataset_path),
            "out_dir": str(self.out_dir),
            "settings": asdict(self.settings),
            "ranking": self.ranking,
            "context": {
                "adapter": {
                    "fingerprint": self.adapter.fingerprint,
                    "path": str(self.adapter.path),
                    "trained_on_dataset_version": self.trained_on_dataset_version,
                },
                "dataset": {"path": str(self.dataset_path), "data_version": self.dataset_version},
                "base_model": self.base_model,
                "prompt_template": self.prompt_template,
            },
        }


def plan_evaluation(store: ArtifactStore, raw_dir: Path, settings: EvaluationSettings) -> EvaluationPlan:
    """The newest adapter against the current base model on the dataset's test split, or EvaluationRefused."""
    if not store.dataset.is_file():
        raise EvaluationRefused(f"dataset not found: {store.dataset} (materialize dataset first)")
    adapter = read_latest_adapter(store)
    summary = read_summary(adapter.path)
    if not summary.get("fingerprint"):
        # Without it nothing says which dataset and base the adapter was trained on, nor that its weights are
        # the ones training wrote: a gate passed on it would promote an unknown.
        raise EvaluationRefused(
            f"adapter {adapter.path} has no training summary ({TRAINING_SUMMARY}): its weights, dataset and base "
            "model cannot be checked; re-materialize lora_adapter"
        )
    manifest = read_current_base_model(store)
    # Weights edited or replaced in place since base_model hashed them: the gate would judge other weights than
    # the ones the promotion records (and serving would then refuse them).
    if changed := base_weights_changed(store, manifest):
        raise EvaluationRefused(f"{changed} (then lora_adapter)")
    # An adapter trained on another base would load onto the wrong weights (or fail with a shape error).
    trained_base = summary.get("base_model")
    trained_hash = trained_base.get("content_hash") if isinstance(trained_base, dict) else None
    if trained_hash and trained_hash != manifest.get("content_hash"):
        raise EvaluationRefused(
            f"adapter {adapter.path} was trained on base {trained_base.get('name')} ({trained_hash[:12]}), "
            f"but the current base model is {manifest.get('name')} ({str(manifest.get('content_hash'))[:12]}); "
            "re-materialize lora_adapter"
        )
    refuse_over_context(settings, Path(manifest["path"]))
    dataset_version = sha256_file(store.dataset)
    trained_on = (summary.get("dataset") or {}).get("data_version")
    if trained_on and trained_on != dataset_version:
        # The file changed after training validated it: its test split is not what the adapter was held out from.
        raise EvaluationRefused(
            f"{store.dataset} (sha256 {dataset_version[:12]}) is not the dataset adapter {adapter.fingerprint} "
            f"was trained and validated on ({trained_on[:12]}): refusing to evaluate or promote; re-materialize "
            "dataset and lora_adapter"
        )
    # A MEDIQA test question moved into train would be scored as held out: checked against the raw test set.
    raw_mediqa = Path(raw_dir) / MEDIQA
    refuse_if_invalid(store.dataset, read_dataset(store.dataset), "evaluate", mediqa.test_questions(raw_mediqa))
    base_model = {key: manifest.get(key) for key in BASE_MODEL_KEYS}
    base_model["tokenizer_hash"] = manifest.get("tokenizer_hash") or tokenizer_digest(Path(manifest["path"]))
    base_model["config_hash"] = config_digest(Path(manifest["path"]))  # as evaluated, whatever the manifest says
    plan = EvaluationPlan(
        adapter=adapter,
        base_model=base_model,
        dataset_path=store.dataset,
        dataset_version=dataset_version,
        trained_on_dataset_version=trained_on,
        prompt_template=template_from_summary(summary).text,
        out_dir=store.evaluations / adapter.fingerprint,
        settings=settings,
        inputs={"base model": Path(manifest["path"]), "adapter": Path(adapter.path)},
        adapter_files=file_digests(adapter.path, evaluated_adapter_files(adapter.path)),
    )
    if settings.ranking_max_questions != 0:
        plan.ranking = {
            "labelled": str(raw_mediqa / mediqa.TASK_DIR / mediqa.TEST_LABELLED_FILE),
            "ground_truth": str(raw_mediqa / mediqa.TEST_GROUND_TRUTH),
            "max_questions": settings.ranking_max_questions,
        }
        plan.inputs["MEDIQA test set"] = raw_mediqa
        if settings.learned_ranking:  # fitted on the training files' labels, never on validation or test
            fit = {tag: raw_mediqa / mediqa.TASK_DIR / mediqa.TRAINING_FILES[tag] for tag in mediqa.TRAIN_SPLIT_TAGS}
            if missing := [str(path) for path in fit.values() if not path.is_file()]:
                raise EvaluationRefused(
                    "learned_ranking is fitted on the labelled MEDIQA training files, and these are missing: "
                    f"{', '.join(missing)}; restore them, or set learned_ranking: false to rank with the ranker's "
                    "score alone"
                )
            plan.ranking["fit"] = {name: str(path) for name, path in fit.items()}
    return plan


def refuse_over_context(settings: EvaluationSettings, model_dir: Path) -> None:
    """A reference answer or a candidate scored past the model's context would be scored at positions it never
    learned: the gate would judge numbers that mean nothing. Refused before any model loads, naming the settings."""
    context = model_context(model_dir)
    if context is None:
        return  # the model names no context: nothing to check against
    for name, answer in (
        ("max_response_tokens", settings.max_response_tokens),
        ("ranking_max_answer_tokens", settings.ranking_max_answer_tokens),
    ):
        if settings.max_prompt_tokens + answer > context:
            raise EvaluationRefused(
                f"max_prompt_tokens {settings.max_prompt_tokens} + {name} {answer} exceed the base model's "
                f"{context}-token context: lower them to at most {context} together"
            )


def evaluated_adapter_files(adapter_dir: Path) -> list[str]:
    """The weights and config, and the training summary when there is one: it holds the prompt template the
    evaluation and serving format questions with, so an edit to it changes what the adapter answers."""
    summary = [TRAINING_SUMMARY] if (Path(adapter_dir) / TRAINING_SUMMARY).is_file() else []
    return [*SIGNED_ADAPTER_FILES, *summary]


def check_adapter_unchanged(plan: EvaluationPlan) -> None:
    """The adapter folder still holds the files that were evaluated (EvaluationRefused otherwise): a folder
    rewritten while it was evaluated must not be promoted under the old numbers."""
    try:
        verify_digests(plan.adapter.path, plan.adapter_files, "adapter when its evaluation started")
    except IntegrityError as exc:
        raise EvaluationRefused(f"not promoted: {exc}") from None


def promotion_record(plan: EvaluationPlan, metrics: dict[str, Any], gate: dict[str, Any], report_path: Path) -> dict:
    """Provenance `current.json` carries for a promoted adapter: exactly what was evaluated (the adapter's file
    digests, the base model's weight and tokenizer digests, the dataset version), metrics, the gate."""
    return {
        "adapter_files": plan.adapter_files,
        "dataset_data_version": plan.dataset_version,
        "trained_on_dataset_version": plan.trained_on_dataset_version,
        "base_model": plan.base_model,
        "evaluation_path": str(report_path),
        # A later evaluation of the same adapter replaces the report: this tells the promoting one apart.
        "evaluation_sha256": sha256_file(report_path),
        "metrics": {model: metrics[model] for model in ("base", "adapter")},
        "gate": gate,
    }
