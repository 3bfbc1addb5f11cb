"""Shared helpers of the interop peer scripts: argument parsing, JSON events on stdout, logging to stderr."""
import argparse
import json
import logging
import sys
import warnings

warnings.filterwarnings("ignore")


def algorithm_arguments(parser: argparse.ArgumentParser) -> None:
    """Comma-separated algorithm lists; an omitted list keeps the library's default."""
    parser.add_argument("--kex")
    parser.add_argument("--host-key-algs")
    parser.add_argument("--ciphers")
    parser.add_argument("--macs")
    parser.add_argument("--compression")


def split(value):
    return [v for v in value.split(",") if v] if value else None


def emit(event: str, **fields) -> None:
    """One JSON object per line on stdout; the test reads these."""
    fields["event"] = event
    sys.stdout.write(json.dumps(fields, sort_keys=True) + "\n")
    sys.stdout.flush()


def setup_logging(name: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG,
        format="%(asctime)s " + name + " %(levelname)s %(name)s: %(message)s",
    )
