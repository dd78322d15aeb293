using System.CommandLine;
using Relay;

// Before anything starts a thread: see RuntimeDefaults.
RuntimeDefaults.LimitMallocArenas();
// SIGTERM is the host's to handle (drain, confirm, exit 0), not the command line's: it would end the process after 2 s.
return await RelayCommandLine.Create().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
