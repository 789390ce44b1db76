"""Commands for proving what the ledger said: keygen, checkpoint, prove, verify-proof (the logic is in :mod:`ledger.proofs`)."""

from __future__ import annotations

from collections.abc import Sequence

import click

from ledger import proofs
from ledger.cli.output import UserError, db_option, emit_json, format_option, user_errors
from ledger.store import LedgerStore, open_store

key_file = click.Path(dir_okay=False)


@click.command()
@click.option("-o", "--output", required=True, type=key_file, help="The private key file to write (its public key goes beside it, + .pub).")
@format_option()
@user_errors(proofs.ProofError)
def keygen(output: str, fmt: str) -> None:
    """Make an Ed25519 key pair for signing checkpoints.

    The private key is written to OUTPUT (readable by you alone, mode 0600);
    the public key to OUTPUT.pub, which you publish with your checkpoints.

    \b
    Example:
      ledger keygen -o ledger-key
    """
    pair = proofs.generate_key(output)
    if fmt == "json":
        emit_json({"private_key": str(pair.private_path), "public_key": str(pair.public_path), "key_id": pair.key_id})
        return
    click.echo(f"wrote private key {pair.private_path} (mode 0600) and public key {pair.public_path}, key id {pair.key_id}")


@click.command()
@click.option("-o", "--output", required=True, type=key_file, help="The checkpoint file to write.")
@click.option("--key", type=key_file, help="Sign with this private key (from ledger keygen).")
@db_option
@format_option()
@user_errors(proofs.ProofError)
def checkpoint(output: str, key: str | None, db: str, fmt: str) -> None:
    """Write a signed checkpoint of the ledger: its size, Merkle root and time.

    Publish the file somewhere the ledger's keeper cannot change it (a git
    repository, a website): later, ledger verify --checkpoint FILE proves the
    ledger still extends it. The store keeps a copy of every checkpoint.

    \b
    Example:
      ledger checkpoint -o checkpoint.json --key ledger-key
    """
    with open_store(db, create=False) as store:
        made = proofs.make_checkpoint(store, key)
    proofs.write_file(output, made.file_bytes())
    if fmt == "json":
        emit_json(made.document())
        return
    signed = f"signed by key {made.key_id}" if made.signature else "unsigned (pass --key to sign it)"
    click.echo(f"checkpoint of {made.size} entries (events through position {made.position}), root {made.root.hex()}, {signed}: {output}")


@click.command()
@click.argument("event_id")
@click.option("-o", "--output", required=True, type=key_file, help="The proof file to write.")
@click.option(
    "--key", type=key_file, help="Sign a new checkpoint with this private key (default: the newest signed one covering the event)."
)
@click.option(
    "--checkpoint", "checkpoint_file", type=click.Path(exists=True, dir_okay=False), help="Prove against this checkpoint file instead."
)
@db_option
@format_option()
@user_errors(proofs.ProofError)
def prove(event_id: str, output: str, key: str | None, checkpoint_file: str | None, db: str, fmt: str) -> None:
    """Write an inclusion proof that EVENT_ID is in the ledger, checkable with no database.

    The proof holds the event as recorded (with its position and time), its
    leaf in the Merkle log, the audit path and the signed checkpoint it leads to:
    the one given with --checkpoint (a published one), a new one signed with
    --key, or else the newest signed checkpoint the store keeps that covers it.

    \b
    Example:
      ledger prove biden-agrees-counter-fire-shift -o proof.json
    """
    with open_store(db, create=False) as store:
        document = proofs.prove(store, event_id, key, checkpoint_file)
    proofs.write_file(output, proofs.dump_document(document))
    if fmt == "json":
        emit_json(document)
        return
    head = document["checkpoint"]["checkpoint"]
    click.echo(
        f"proof that {event_id} is entry {document['leaf_index'] + 1} of {head['size']}, "
        f"checkpoint signed by key {head['key_id']} at {head['time']}: {output}"
    )


@click.command(name="verify-proof")
@click.argument("proof_file", type=click.Path(dir_okay=False))
@click.option("--key", type=key_file, help="The public key the checkpoint must be signed with (e.g. ledger-key.pub).")
@format_option()
@user_errors(proofs.ProofError)
def verify_proof(proof_file: str, key: str | None, fmt: str) -> None:
    """Check an inclusion proof file without any database.

    Exit 0 when the event leads to the checkpoint's root and the checkpoint's
    signature verifies (with --key: by that key); exit 1 when it does not, and
    2 when the file is not a proof. Any changed byte makes it fail.

    \b
    Example:
      ledger verify-proof proof.json --key ledger-key.pub
    """
    result = proofs.verify_proof(proof_file, key)
    if fmt == "json":
        emit_json(result.to_dict())
    elif result.ok:
        pinned = "" if result.pinned else " (not pinned: pass --key to require your key)"
        click.echo(
            f"ok: {result.event_id} is entry {(result.leaf_index or 0) + 1} of {result.size} in the ledger "
            f"checkpointed at {result.time}, root {result.root}, signed by key {result.key_id}{pinned}"
        )
    else:
        click.echo(f"proof fails: {'; '.join(result.problems)}")
    if not result.ok:
        raise click.exceptions.Exit(1)


def check_log(store: LedgerStore, checkpoints: Sequence[str], key: str | None) -> proofs.LedgerCheck:
    """``ledger verify``'s part over the Merkle log: the log against the entries, and the ledger against each checkpoint."""
    try:
        return proofs.check_checkpoints(store, checkpoints, key)
    except proofs.ProofError as error:
        raise UserError(str(error)) from None


def echo_log_check(check: proofs.LedgerCheck) -> None:
    if check.first_bad_leaf is None:
        click.echo(f"log ok, {check.entries} entries, root {check.root}")
    else:
        click.echo(f"log mismatch at entry {check.first_bad_leaf + 1}: {check.reason}")
    for result in check.checkpoints:
        signed = f"key {result.key_id}" if result.key_id else "unsigned"
        if result.ok:
            click.echo(f"checkpoint {result.path} ({result.checkpoint_size} entries, {signed}): the ledger extends it")
        else:
            click.echo(f"checkpoint {result.path} ({result.checkpoint_size} entries, {signed}) fails: {'; '.join(result.problems)}")


COMMANDS = [keygen, checkpoint, prove, verify_proof]
