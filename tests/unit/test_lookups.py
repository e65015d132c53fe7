import yaml

from servicecenter.nlu_lookups import render_lookups


def test_lookups_contain_every_synonym_mapped_to_its_slug(knowledge):
    data = yaml.safe_load(render_lookups(knowledge))
    synonyms: dict = {}
    for item in data["nlu"]:
        if "synonym" in item:  # a slug may be a service and an office (friedhof)
            synonyms.setdefault(item["synonym"], []).extend(line[2:] for line in item["examples"].splitlines())
    assert "Pass" in synonyms["reisepass"]
    for slug, service in knowledge.services.items():
        assert set(service.synonyms) <= set(synonyms[slug])
    lookup = next(item for item in data["nlu"] if item.get("lookup") == "service")
    assert "Perso" in lookup["examples"]


def test_keyword_examples_annotate_the_service_entity(knowledge):
    data = yaml.safe_load(render_lookups(knowledge))
    reisepass = next(item for item in data["nlu"] if item.get("intent") == "svc_reisepass")
    assert "- [Reisepass](service)" in reisepass["examples"]
