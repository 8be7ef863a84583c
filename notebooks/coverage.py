# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # docgap coverage on MTSamples
#
# How often do real transcriptions document the elements of M53.0 (cervicocranial
# syndrome), which statuses do they get, and which gaps come up most? This notebook runs
# `docgap.Analyzer` over MTSamples transcriptions (CC0): by default the 50 real MTSamples
# notes shipped in the repository's gold file `corpus/dev/gold.jsonl`, so it runs from a
# fresh clone. It builds two pandas tables (one row per note with `docgap.to_frame`, one
# row per piece of evidence), shows one note with its evidence highlighted
# (`docgap.frames.show_note`) and plots:
#
# 1. the status distribution by specialty,
# 2. element prevalence by assertion (affirmed, negated, uncertain, ...),
# 3. the gaps found most often.
#
# It is kept as a jupytext percent script (`make test` installs jupytext):
#
# - run it as a plain script: `.venv/bin/python notebooks/coverage.py`;
# - open it in Jupyter: `.venv/bin/jupytext --to notebook notebooks/coverage.py` writes
#   `notebooks/coverage.ipynb` (Jupyter itself is not a docgap dependency:
#   `pip install jupyterlab`, then `jupyter lab notebooks/coverage.ipynb`);
# - execute it as a notebook: `jupytext --to notebook --execute notebooks/coverage.py`
#   (needs `pip install nbclient ipykernel`).
#
# Settings (environment variables):
#
# - `DOCGAP_MTSAMPLES`: the corpus, either MTSamples JSON Lines (`note_id`, `text`,
#   `specialty`; the full set of about 5,000 is on Kaggle and Hugging Face) or a docgap gold
#   file (`id`, `text`, `setting`). Default: `corpus/dev/gold.jsonl`, in the repository.
# - `DOCGAP_NOTEBOOK_SAMPLE`: analyse a random sample of this many distinct notes
#   (default 0 = all of them; the whole corpus takes about a minute on two cores).
# - `DOCGAP_NOTEBOOK_OUT`: where tables and figures are written (default
#   `notebooks/output/`).
#
# With a gold file, only its real MTSamples notes (`mts-` ids) are used, and the gold
# status is shown beside the predicted one.

# %%
from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd

import docgap
import docgap.frames
from docgap.packs.m53_0 import ELEMENTS

try:  # Jupyter shows tables richly; a plain run prints them.
    from IPython.display import display as show
except ImportError:  # pragma: no cover - IPython is optional
    show = print

ROOT = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd().parent
DEFAULT = ROOT / "corpus" / "dev" / "gold.jsonl"  # shipped: the notebook runs from a clone
SEED = 20261126
MTSAMPLES_PREFIX = "mts-"


def corpus_path() -> Path:
    """The configured corpus (``DOCGAP_MTSAMPLES``), else the gold file in the repository."""
    configured = os.environ.get("DOCGAP_MTSAMPLES")
    return Path(configured) if configured else DEFAULT


pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 12)
SOURCE = corpus_path()
SAMPLE = int(os.environ.get("DOCGAP_NOTEBOOK_SAMPLE", "0") or 0)
OUT = Path(os.environ.get("DOCGAP_NOTEBOOK_OUT", ROOT / "notebooks" / "output"))
OUT.mkdir(parents=True, exist_ok=True)
print(f"corpus: {SOURCE}\nsample: {SAMPLE or 'all'}\noutput: {OUT}")

# %% [markdown]
# ## Load and deduplicate
#
# MTSamples files many transcriptions under several specialties (a cervical discectomy
# appears under Surgery, Orthopedic and Neurosurgery), so the notes are deduplicated on
# their text before anything is counted. Each distinct note keeps the first id it was
# listed under and the list of all its specialties.


# %%
def load_notes(path: Path) -> pd.DataFrame:
    """One row per record: note_id, text, group (specialty or setting), gold status if any."""
    raw = pd.read_json(path, lines=True, dtype=False)
    if "gold" in raw.columns:  # a docgap gold file: keep its real MTSamples notes
        raw = raw[raw["id"].astype(str).str.startswith(MTSAMPLES_PREFIX)]
        return pd.DataFrame(
            {
                "note_id": raw["id"].astype(str),
                "text": raw["text"],
                "group": raw.get("setting", pd.Series("unknown", index=raw.index)),
                "gold_status": raw["gold"].map(lambda g: g["status"]),
            }
        )
    return pd.DataFrame(
        {"note_id": raw["note_id"].astype(str), "text": raw["text"], "group": raw["specialty"]}
    )


records = load_notes(SOURCE)
records["group"] = records["group"].fillna("unknown").astype(str).str.strip()
records = records[records["text"].fillna("").str.strip() != ""]
specialties = records.groupby("text", sort=False)["group"].agg(lambda s: sorted(set(s)))
notes_in = records.drop_duplicates("text").copy()
notes_in["groups"] = notes_in["text"].map(specialties)
print(f"{len(records)} records with text, {len(notes_in)} distinct notes")
if SAMPLE and len(notes_in) > SAMPLE:
    notes_in = notes_in.sample(SAMPLE, random_state=SEED).sort_index()
print(f"analysing {len(notes_in)} notes")

# %% [markdown]
# ## Analyse
#
# One `Analyzer` (the pipeline is built once), every note through it. Two tables come
# out: `notes` (status, would-code, each element, gap keys) and `evidence` (every
# mention docgap found, with its assertion and whether it counted).

# %%
analyzer = docgap.Analyzer()
reports = []
evidence_rows: list[dict] = []
for row in notes_in.itertuples(index=False):
    report = analyzer.analyze(row.text, row.note_id)
    reports.append(report)
    evidence_rows.extend(
        {
            "note_id": report.note_id,
            "specialty": row.group,
            "element": ev.element,
            "concept": ev.concept,
            "text": ev.text,
            "start": ev.start,
            "section": ev.section,
            "assertion": ev.assertion,
            "counted": ev.counted,
            "reason": ev.reason,
        }
        for ev in report.evidence
    )

# One row per note (elements as boolean columns), plus this notebook's own columns.
notes = docgap.to_frame(reports)
notes["status"] = notes["status"].fillna("error")
notes["specialty"] = notes_in["group"].to_list()
notes["specialties"] = notes_in["groups"].to_list()
notes["gaps"] = notes["gaps"].map(lambda joined: joined.split("; ") if joined else [])
for element in ELEMENTS:
    notes[element] = notes[element].fillna(False).astype(bool)
if "gold_status" in notes_in.columns:
    notes["gold_status"] = notes_in["gold_status"].to_list()
evidence = pd.DataFrame(
    evidence_rows,
    columns=[
        "note_id",
        "specialty",
        "element",
        "concept",
        "text",
        "start",
        "section",
        "assertion",
        "counted",
        "reason",
    ],
)
notes.to_csv(OUT / "notes.csv", index=False)
evidence.to_csv(OUT / "evidence.csv", index=False)
failed = int(notes["error"].notna().sum())
print(f"{len(notes)} notes, {len(evidence)} evidence rows, {failed} failed")

# %% [markdown]
# ## One note, its evidence highlighted
#
# Counted mentions are highlighted; mentions that did not count (negated, historical,
# family, ...) are struck through; hover for the element, assertion and reason. In
# Jupyter the cell shows the note; a plain run writes it to `note.html`.

# %%
texts = dict(zip(notes_in["note_id"], notes_in["text"], strict=True))
example = next((r for r in reports if r.status == "supported"), reports[0])
shown = docgap.frames.show_note(example, texts[example.note_id])
(OUT / "note.html").write_text(str(shown), encoding="utf-8")
if show is print:  # a plain run: the HTML is in the file, not on the terminal
    print(f"{example.note_id} ({example.status}) highlighted: {OUT / 'note.html'}")
else:
    show(shown)

# %% [markdown]
# ## Status overall and by specialty
#
# A note listed under several specialties counts once in each of them here (the
# overall figures count it once).

# %%
STATUS_ORDER = [s for s in (*docgap.STATUSES, "error") if s in set(notes["status"])]
overall = notes["status"].value_counts().reindex(STATUS_ORDER, fill_value=0)
show(overall.to_frame("notes").assign(share=lambda d: (d["notes"] / d["notes"].sum()).round(3)))

by_specialty = (
    notes.explode("specialties")
    .pipe(lambda d: pd.crosstab(d["specialties"], d["status"]))
    .reindex(columns=STATUS_ORDER, fill_value=0)
)
# Specialties with the most notes about the neck first (any status but not_applicable).
neck_notes = by_specialty.drop(columns=["not_applicable", "error"], errors="ignore").sum(axis=1)
order = pd.DataFrame({"neck": neck_notes, "all": by_specialty.sum(axis=1)})
by_specialty = by_specialty.loc[order.sort_values(["neck", "all"], ascending=False).index]
by_specialty.to_csv(OUT / "status_by_specialty.csv")
show(by_specialty.head(20))

# %%
top = by_specialty.head(15)
shares = top.div(top.sum(axis=1), axis=0).iloc[::-1]
fig, ax = plt.subplots(figsize=(9, 0.4 * len(shares) + 1.5))
shares.plot.barh(stacked=True, ax=ax, width=0.8, colormap="tab10")
ax.set_xlabel("share of notes")
ax.set_ylabel("")
ax.set_title("docgap status by specialty (most neck notes first)")
ax.legend(title="status", bbox_to_anchor=(1.01, 1), loc="upper left")
fig.tight_layout()
fig.savefig(OUT / "status_by_specialty.png", dpi=120)
if matplotlib.get_backend().lower() != "agg":
    plt.show()
plt.close(fig)

# %% [markdown]
# ## Element prevalence by assertion
#
# For each element, how many notes mention it at all, and with which assertion. An
# affirmed mention can still be rejected by a rule (e.g. a headache not tied to the
# neck), so "affirmed, counted" is shown apart: that is what sets the element.

# %%
element_evidence = evidence[evidence["element"].isin(ELEMENTS)].copy()
element_evidence["kind"] = element_evidence["assertion"].where(
    element_evidence["assertion"] != "affirmed",
    element_evidence["counted"].map({True: "affirmed, counted", False: "affirmed, rejected"}),
)
prevalence = (
    element_evidence.drop_duplicates(["note_id", "element", "kind"])
    .pipe(lambda d: pd.crosstab(d["element"], d["kind"]))
    .reindex(index=list(ELEMENTS), fill_value=0)
)
prevalence["element set (notes)"] = [int(notes[e].sum()) for e in prevalence.index]
prevalence.to_csv(OUT / "element_prevalence.csv")
show(prevalence)

# %%
kinds = [c for c in prevalence.columns if c != "element set (notes)"]
fig, ax = plt.subplots(figsize=(9, 4.5))
(prevalence[kinds] / len(notes)).plot.bar(ax=ax, width=0.85, colormap="tab10")
ax.set_ylabel("share of notes with such a mention")
ax.set_xlabel("")
ax.set_title(f"element mentions by assertion ({len(notes)} notes)")
ax.legend(title="assertion", bbox_to_anchor=(1.01, 1), loc="upper left")
plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
fig.tight_layout()
fig.savefig(OUT / "element_prevalence.png", dpi=120)
if matplotlib.get_backend().lower() != "agg":
    plt.show()
plt.close(fig)

# %% [markdown]
# ## The gaps found most often

# %%
gaps = notes["gaps"].explode().dropna().value_counts()
gaps.to_csv(OUT / "top_gaps.csv", header=["notes"])
show(gaps.head(15).to_frame("notes"))

fig, ax = plt.subplots(figsize=(8, 0.4 * max(len(gaps.head(15)), 1) + 1.5))
gaps.head(15).iloc[::-1].plot.barh(ax=ax, color="tab:orange")
ax.set_xlabel("notes")
ax.set_title("most frequent documentation gaps")
if gaps.empty:
    ax.text(0.5, 0.5, "no gaps found in this sample", ha="center", transform=ax.transAxes)
fig.tight_layout()
fig.savefig(OUT / "top_gaps.png", dpi=120)
if matplotlib.get_backend().lower() != "agg":
    plt.show()
plt.close(fig)

# %% [markdown]
# ## Against the gold labels (only when the corpus is a gold file)

# %%
if "gold_status" in notes.columns:
    show(pd.crosstab(notes["gold_status"], notes["status"], margins=True))
    print(f"status accuracy on these notes: {(notes['gold_status'] == notes['status']).mean():.3f}")

# %%
summary = {
    "corpus": str(SOURCE),
    "notes": len(notes),
    "failed": failed,
    "status": {k: int(v) for k, v in overall.items()},
    "query_opportunities": int(notes["query_opportunity"].sum()),
    "element_notes": {e: int(notes[e].sum()) for e in ELEMENTS},
    "top_gaps": {k: int(v) for k, v in gaps.head(15).items()},
}
(OUT / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
print(json.dumps(summary, indent=2))
