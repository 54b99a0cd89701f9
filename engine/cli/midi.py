"""List MIDI inputs, or print what arrives on one and what it is bound to.

Example:
  postcards midi list
  postcards midi monitor
  postcards midi monitor --port "nanoKONTROL" --seconds 30

Ports and bindings come from [midi] in config.toml (backend, input, map) and the MIDI learn file. Each
message prints as: channel (1-16), type, number, value, and the address and value it drives.
"""

from __future__ import annotations

import argparse
import time

from engine.errors import UserError


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="list the MIDI inputs the configured backend sees")
    monitor = actions.add_parser("monitor", help="print what arrives on an input and what it maps to")
    monitor.add_argument("--port", metavar="NAME", help="input name or regular expression (default: midi.input)")
    monitor.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)")


def run(args: argparse.Namespace) -> int:
    from engine.control.midi import open_backend

    backend = open_backend(args.settings.midi.backend)
    if args.action == "list":
        names = backend.get_input_names()
        print(f"MIDI inputs (backend {backend.name}{f'/{backend.api}' if backend.api else ''}):")
        for i, name in enumerate(names):
            print(f"  {i}  {name}")
        if not names:
            print("  none")
        return 0
    return _monitor(args, backend)


def _monitor(args: argparse.Namespace, backend) -> int:
    from engine.control.midi import MidiMap, choose_port, describe, learn_path, load_learned
    from engine.control.midi_input import READ_SECONDS, open_input
    from engine.show.controls import controls_for
    from engine.settings.scenes import load_all

    config = args.settings
    wanted = args.port if args.port is not None else config.midi.input
    names = backend.get_input_names()
    name = choose_port(names, wanted)
    if name is None:
        raise UserError(f"--port / midi.input: expected one of the inputs ({', '.join(names) or 'none'}), "
                        f"found {wanted!r}")
    scenes, _ = load_all(config.path("scenes")) if config.path("scenes").is_dir() else ({}, [])
    controls = controls_for(sorted({layer for s in scenes.values() for layer in s.sound.layers}))
    mapping = MidiMap(list(config.midi.map) + load_learned(learn_path(config)))
    print(f"monitoring {name!r} (Ctrl-C stops)", flush=True)
    deadline = time.monotonic() + args.seconds if args.seconds is not None else float("inf")
    port = open_input(backend, name)
    try:
        while time.monotonic() < deadline:
            for message in port.iter_pending():
                print(f"{describe(message)}  {_meaning(mapping, message, controls)}", flush=True)
            time.sleep(READ_SECONDS)
    except KeyboardInterrupt:
        pass
    finally:
        port.close()
    return 0


def _meaning(mapping, message, controls) -> str:
    binding = mapping.mapping_for(message)
    if binding is None:
        return "(not bound)"
    command = mapping.command_for(message, controls, {})
    if command is None:
        return f"-> {binding.address} (no change)"
    return f"-> {command.address} {' '.join(_format(a) for a in command.args)}".rstrip()


def _format(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
