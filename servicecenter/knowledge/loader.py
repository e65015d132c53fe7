"""Read and validate the knowledge-base YAML folder.

Every problem is reported with the file, the entry and the field, and all problems of a
folder are collected before failing, so a trainer fixes them in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Type, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from servicecenter.knowledge.schema import Location, OpeningHours, Organisation, Service

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: entry '{self.entry}': field '{self.field}': {self.message}"


class KnowledgeError(ValueError):
    """The knowledge base is invalid; ``problems`` lists every finding."""

    def __init__(self, problems: List[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the knowledge base:\n{lines}")


@dataclass
class Catalogue:
    departments: Dict[str, str]
    external_bodies: Dict[str, str]
    services: Dict[str, str]  # slug -> responsible
    special_requests: Dict[str, str]

    @property
    def organisations(self) -> Dict[str, str]:
        return {**self.departments, **self.external_bodies}


@dataclass
class KnowledgeBase:
    catalogue: Catalogue
    services: Dict[str, Service]
    organisations: Dict[str, Organisation]
    locations: Dict[str, Location]
    hours: Dict[str, OpeningHours]
    source_files: Dict[str, str] = field(default_factory=dict)

    def service(self, slug: str) -> Service:
        return self.services[slug]

    def organisation_for(self, service_slug: str) -> Organisation:
        return self.organisations[self.services[service_slug].responsible]


def _read_yaml(path: Path, problems: List[Problem]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        problems.append(Problem(path.name, "-", "-", f"not valid YAML: {err}"))
        return None


def _validate(model: Type[M], raw: Any, file: str, problems: List[Problem]) -> Optional[M]:
    entry = str(raw.get("slug", "?")) if isinstance(raw, dict) else "?"
    if not isinstance(raw, dict):
        problems.append(Problem(file, entry, "-", "entry must be a mapping"))
        return None
    try:
        return model.parse_obj(raw)
    except ValidationError as err:
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"])
            problems.append(Problem(file, entry, loc, e["msg"]))
        return None


def load_catalogue(path: Path) -> Catalogue:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Catalogue(
        departments=dict(data["departments"]),
        external_bodies=dict(data["external_bodies"]),
        services={s["slug"]: s["responsible"] for s in data["services"]},
        special_requests=dict(data.get("special_requests", {})),
    )


def _load_list(
    path: Path, key: str, model: Type[M], problems: List[Problem]
) -> Dict[str, M]:
    result: Dict[str, M] = {}
    if not path.exists():
        problems.append(Problem(path.name, "-", key, "file is missing"))
        return result
    data = _read_yaml(path, problems)
    if data is None:
        return result
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        problems.append(Problem(path.name, "-", key, f"expected a list under '{key}'"))
        return result
    for raw in items:
        item = _validate(model, raw, path.name, problems)
        if item is None:
            continue
        if item.slug in result:  # type: ignore[attr-defined]
            problems.append(Problem(path.name, item.slug, "slug", "duplicate slug"))  # type: ignore[attr-defined]
        result[item.slug] = item  # type: ignore[attr-defined]
    return result


def load_knowledge(directory: Path, catalogue_path: Optional[Path] = None) -> KnowledgeBase:
    """Load and validate a town's knowledge folder; raise ``KnowledgeError`` on problems."""
    problems: List[Problem] = []
    catalogue = load_catalogue(catalogue_path or directory / "catalogue.yml")
    organisations = _load_list(directory / "organisations.yml", "organisations", Organisation, problems)
    locations = _load_list(directory / "locations.yml", "locations", Location, problems)
    hours = _load_list(directory / "hours.yml", "hours", OpeningHours, problems)

    services: Dict[str, Service] = {}
    source_files: Dict[str, str] = {}
    service_dir = directory / "services"
    present = {path.stem for path in service_dir.glob("*.yml")}
    for path in sorted(service_dir.glob("*.yml")):
        raw = _read_yaml(path, problems)
        if raw is None:
            continue
        service = _validate(Service, raw, f"services/{path.name}", problems)
        if service is None:
            continue
        rel = f"services/{path.name}"
        if path.stem != service.slug:
            problems.append(Problem(rel, service.slug, "slug", f"file must be named {service.slug}.yml"))
        services[service.slug] = service
        source_files[service.slug] = rel

    problems.extend(_cross_check(catalogue, services, organisations, locations, hours, source_files, present))
    if problems:
        raise KnowledgeError(problems)
    return KnowledgeBase(catalogue, services, organisations, locations, hours, source_files)


def _cross_check(
    catalogue: Catalogue,
    services: Dict[str, Service],
    organisations: Dict[str, Organisation],
    locations: Dict[str, Location],
    hours: Dict[str, OpeningHours],
    files: Dict[str, str],
    present: Iterable[str] = (),
) -> Iterable[Problem]:
    for slug in catalogue.services:
        if slug not in services and slug not in set(present):  # invalid files are reported already
            yield Problem(f"services/{slug}.yml", slug, "-", "catalogue service has no entry")
    for slug in catalogue.organisations:
        if slug not in organisations:
            yield Problem("organisations.yml", slug, "-", "catalogue department/body has no entry")
    for org in organisations.values():
        if org.slug not in catalogue.organisations:
            yield Problem("organisations.yml", org.slug, "slug", "unknown department (not in catalogue)")
        if org.location and org.location not in locations:
            yield Problem("organisations.yml", org.slug, "location", f"unknown location '{org.location}'")
        if org.hours and org.hours not in hours:
            yield Problem("organisations.yml", org.slug, "hours", f"unknown opening hours '{org.hours}'")
    seen_synonyms: Dict[str, str] = {}
    for service in services.values():
        file = files[service.slug]
        if service.responsible not in catalogue.organisations:
            yield Problem(file, service.slug, "responsible", f"unknown department '{service.responsible}'")
        elif catalogue.services.get(service.slug, service.responsible) != service.responsible:
            yield Problem(
                file, service.slug, "responsible",
                f"catalogue says '{catalogue.services[service.slug]}'",
            )
        if service.location and service.location not in locations:
            yield Problem(file, service.slug, "location", f"unknown location '{service.location}'")
        if service.hours and service.hours not in hours:
            yield Problem(file, service.slug, "hours", f"unknown opening hours '{service.hours}'")
        for synonym in service.synonyms:
            key = synonym.casefold()
            other = seen_synonyms.get(key)
            if other and other != service.slug:
                yield Problem(file, service.slug, "synonyms", f"'{synonym}' is also a synonym of '{other}'")
            seen_synonyms[key] = service.slug
    for org in organisations.values():
        for synonym in org.synonyms:
            other = seen_synonyms.get(synonym.casefold())
            if other and other != org.slug:
                yield Problem("organisations.yml", org.slug, "synonyms", f"'{synonym}' is also a synonym of '{other}'")
            seen_synonyms[synonym.casefold()] = org.slug
