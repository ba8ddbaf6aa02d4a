"""Developer tools on top of the VM's hook API: debugger, recording, profiler (issue 14).

Imported lazily by the CLI, only for their own subcommands."""
