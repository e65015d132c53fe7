"""``assistant models download``: fetch, verify and unpack a Vosk model under models/vosk/."""

from __future__ import annotations

import argparse
import sys


def cmd_models_download(args: argparse.Namespace) -> int:
    from servicecenter.settings import get_settings, get_voice_settings
    from speech.models import ModelError, download, find_model

    settings = get_settings()
    if args.if_missing:
        present = find_model(settings.models_dir, get_voice_settings().vosk_model)
        if present is not None:
            print(f"Vosk model ready: {present}")
            return 0
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
    p.add_argument("--if-missing", action="store_true",
                   help="do nothing when a Vosk model is already there (models/vosk/ or ASSISTANT_VOICE_VOSK_MODEL)")
    p.set_defaults(func=cmd_models_download)
