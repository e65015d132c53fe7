"""Build the German spaCy pipeline that Rasa's SpacyNLP loads by path.

No model hub: a blank ``de`` pipeline with the lookup lemmatizer, whose tables come from
the pinned ``spacy-lookups-data`` package. The build is reproducible: the same package
versions give the same files, and a stamp file records them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def _stamp() -> dict:
    import spacy
    import spacy_lookups_data

    return {
        "spacy": spacy.__version__,
        "spacy_lookups_data": getattr(spacy_lookups_data, "__version__", "unknown"),
        "pipeline": ["lemmatizer:lookup"],
    }


def build_spacy_pipeline(target: Path, force: bool = False) -> bool:
    """Write the pipeline to ``target``; return False when an identical one is there."""
    stamp_file = target / "build-stamp.json"
    stamp = _stamp()
    if not force and stamp_file.exists() and json.loads(stamp_file.read_text()) == stamp:
        return False
    import spacy

    nlp = spacy.blank("de")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    nlp.meta["name"] = "geldern"
    nlp.meta["description"] = "Blank German pipeline with lookup lemmatizer (spacy-lookups-data)"
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(tmp)
    (tmp / "build-stamp.json").write_text(json.dumps(stamp, indent=2))
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return True
