"""CLI command modules; each defines `register(cli: agents.cli.CLI)`."""
