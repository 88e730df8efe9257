"""`flexledger node export-state|import-state`: back up a stopped node's home and restore it (node/backup.py)."""
from __future__ import annotations

from pathlib import Path

from cli.common import CliError, Context
from node.backup import BackupError, Manifest, describe_signing_state, export_state, import_state
from node.config import NodeHome


def register_backup(node_actions) -> None:
    """Add the backup subcommands to ``flexledger node``'s subparsers."""
    export = node_actions.add_parser("export-state", help="archive a stopped node's home (chain data, config, "
                                                          "genesis, encrypted key, signing state)")
    export.add_argument("archive", type=Path, help="the archive to write (.tar.gz, mode 0600)")
    export.add_argument("--node-home", type=Path, help="node directory (default: <home>/node)")
    export.set_defaults(run=guarded(export_home))
    restore = node_actions.add_parser("import-state", help="restore an archive of 'node export-state' into a new "
                                                           "node home")
    restore.add_argument("archive", type=Path, help="an archive written by 'flexledger node export-state'")
    restore.add_argument("--node-home", type=Path, help="new or empty node directory (default: <home>/node)")
    newer = restore.add_mutually_exclusive_group()
    newer.add_argument("--signing-state", type=Path, metavar="FILE",
                       help="a validator's newest signing_state.json from the old machine (the newer one is kept)")
    newer.add_argument("--fence-height", type=int, metavar="HEIGHT",
                       help="the chain's current height from another node: the validator signs nothing at or "
                            "below it")
    restore.set_defaults(run=guarded(import_home))


def guarded(run):
    def wrapper(ctx: Context, args) -> None:
        try:
            run(ctx, args)
        except BackupError as exc:
            raise CliError(str(exc)) from None
    return wrapper


def _home(ctx: Context, args) -> NodeHome:
    return NodeHome(args.node_home or ctx.home / "node")


def _describe(manifest: Manifest) -> str:
    return (f"chain {manifest.chain_id}, height {manifest.height}, block {manifest.block_hash[:16]}, "
            f"state root {manifest.state_root[:16]}")


def export_home(ctx: Context, args) -> None:
    home = _home(ctx, args)
    manifest = export_state(home, args.archive)
    print(f"backed up {home.path} to {args.archive}: {_describe(manifest)}")


def import_home(ctx: Context, args) -> None:
    home = _home(ctx, args)
    manifest = import_state(args.archive, home, args.signing_state, args.fence_height)
    print(f"restored {args.archive} into {home.path}: {_describe(manifest)}")
    signing = describe_signing_state(home)
    if signing:
        print(signing)
    print(f"start it with: flexledger node start --node-home {home.path}")
