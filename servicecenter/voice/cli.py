"""``assistant models download``: fetch, verify and unpack a Vosk model under models/vosk/."""

from __future__ import annotations

import argparse
import sys


def cmd_models_download(args: argparse.Namespace) -> int:
    from servicecenter.settings import get_settings
    from speech.models import ModelError, download

    settings = get_settings()
    print(f"Downloading {args.model} into {settings.models_dir / 'vosk'} ...", file=sys.stderr)
    try:
        path = download(args.model, settings.models_dir, sha256=args.sha256, url=args.url)
    except ModelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Vosk model ready: {path}")
    return 0


def install(sub: "argparse._SubParsersAction") -> None:
    from speech.models import DEFAULT_MODEL, MODELS

    models = sub.add_parser("models", help="speech models").add_subparsers(dest="models_command", required=True)
    p = models.add_parser("download", help="fetch the German Vosk model (voice) from alphacephei.com")
    p.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(MODELS),
                   help=f"which model (default: {DEFAULT_MODEL}; vosk-model-de-0.21 is the large one)")
    p.add_argument("--sha256", help="expected SHA-256 of the archive (required where none is recorded)")
    p.add_argument("--url", help="download from a mirror instead of alphacephei.com")
    p.set_defaults(func=cmd_models_download)
