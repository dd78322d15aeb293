using Relay;

// Before anything starts a thread: see RuntimeDefaults.
RuntimeDefaults.LimitMallocArenas();
return await RelayCommandLine.Create().Parse(args).InvokeAsync();
