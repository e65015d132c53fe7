"""The recogniser grammar built from the knowledge base and the training data."""

from __future__ import annotations

import json

from servicecenter import PROJECT_ROOT
from speech.stt import _grammar_json
from speech.vocabulary import domain_vocabulary, words


def test_domain_vocabulary_holds_service_names_training_words_and_call_words():
    vocab = domain_vocabulary(PROJECT_ROOT / "knowledge" / "geldern", PROJECT_ROOT / "bot" / "data" / "nlu")
    for word in ("personalausweis", "reisepass", "geldern", "mitarbeiter", "null", "ja", "nein"):
        assert word in vocab
    assert all(w == w.lower() and "-" not in w and " " not in w for w in vocab)


def test_entity_annotations_and_hyphens_do_not_leak_into_words():
    assert words("Ich brauche einen [Reisepass](service) für die Abfall-App") == {
        "ich", "brauche", "einen", "reisepass", "für", "die", "abfall", "app"}


def test_the_grammar_ends_with_unk_so_other_words_are_not_forced_onto_domain_words():
    grammar = json.loads(_grammar_json(["Reisepass", "reisepass", "  ", "[unk]"]))
    assert grammar == ["reisepass", "[unk]"]
