using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Relay.DevServices;

/// <summary>
/// A throwaway PostgreSQL cluster from the machine's own binaries (Debian's postgresql-NN): <c>initdb</c> into a temp
/// directory, <c>wal_level = logical</c>, a free loopback port, removed on dispose. The server refuses to run as root,
/// so as root it runs as the <c>postgres</c> OS user.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    readonly string _binDirectory;
    readonly string _dataDirectory;

    PostgresCluster(string binDirectory, string root, int port)
    {
        _binDirectory = binDirectory;
        Root = root;
        _dataDirectory = Path.Combine(root, "data");
        Port = port;
    }

    /// <summary>A role name that must authenticate with a password (scram-sha-256); all others are trusted.</summary>
    public const string PasswordRole = "relay_scram";

    public string Root { get; }
    public int Port { get; }

    /// <summary>Superuser connection string (trust authentication on loopback).</summary>
    public string ConnectionString =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=true;Include Error Detail=true";

    /// <summary>Finds the newest installed PostgreSQL server, or explains how to get one.</summary>
    public static string? FindBinDirectory()
    {
        var configured = Environment.GetEnvironmentVariable("RELAY_PG_BIN");
        if (!string.IsNullOrEmpty(configured))
            return File.Exists(Path.Combine(configured, "initdb")) ? configured : null;
        const string debian = "/usr/lib/postgresql";
        if (!Directory.Exists(debian))
            return null;
        return Directory.GetDirectories(debian)
            .Select(d => (Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0, Bin: Path.Combine(d, "bin")))
            .Where(d => File.Exists(Path.Combine(d.Bin, "initdb")))
            .OrderByDescending(d => d.Version)
            .Select(d => d.Bin)
            .FirstOrDefault();
    }

    public static async Task<PostgresCluster> StartAsync(IEnumerable<string>? extraSettings = null, CancellationToken cancellationToken = default)
    {
        var bin = FindBinDirectory() ?? throw new InvalidOperationException(
            "No PostgreSQL server binaries found under /usr/lib/postgresql; install them with `apt-get install -y postgresql` " +
            "or set RELAY_PG_BIN, or point RELAY_TEST_POSTGRES at a server with wal_level=logical.");
        var root = Directory.CreateTempSubdirectory("relay-pg-").FullName;
        var cluster = new PostgresCluster(bin, root, FreePort());
        try
        {
            await cluster.InitializeAsync(extraSettings ?? [], cancellationToken);
            await cluster.StartServerAsync(cancellationToken);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    async Task InitializeAsync(IEnumerable<string> extraSettings, CancellationToken cancellationToken)
    {
        _extraSettings = extraSettings.ToList();
        if (IsRoot)
            await RunAsync("chown", ["-R", "postgres:postgres", Root], asPostgres: false, cancellationToken);
        await InitializeDataDirectoryAsync(_dataDirectory, cancellationToken);
    }

    List<string> _extraSettings = [];

    async Task InitializeDataDirectoryAsync(string dataDirectory, CancellationToken cancellationToken)
    {
        await RunAsync(Path.Combine(_binDirectory, "initdb"),
            ["-D", dataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"], asPostgres: true, cancellationToken);
        var settings = new[]
        {
            $"port = {Port}",
            "listen_addresses = '127.0.0.1'",
            $"unix_socket_directories = '{Root}'",
            "wal_level = logical",
            "max_replication_slots = 20",
            "max_wal_senders = 20",
            "fsync = off",
            "full_page_writes = off",
            "max_connections = 100",
        }.Concat(_extraSettings);
        await File.AppendAllLinesAsync(Path.Combine(dataDirectory, "postgresql.conf"), settings, cancellationToken);
        // Everyone is trusted on loopback, except the role tests use to check password handling.
        var hba = Path.Combine(dataDirectory, "pg_hba.conf");
        await File.WriteAllTextAsync(hba, $"host all {PasswordRole} 127.0.0.1/32 scram-sha-256\n" + await File.ReadAllTextAsync(hba, cancellationToken), cancellationToken);
    }

    public Task StartServerAsync(CancellationToken cancellationToken = default) =>
        RunAsync(Path.Combine(_binDirectory, "pg_ctl"),
            ["-D", _dataDirectory, "-l", Path.Combine(Root, "server.log"), "-w", "-t", "60", "start"], asPostgres: true, cancellationToken);

    /// <summary>
    /// Moves the cluster to a new data directory with <c>pg_upgrade</c>, as a major upgrade does (with this machine's
    /// one server version, the same version on both sides): the server is stopped, upgraded and started again on the
    /// same port. Before PostgreSQL 17, pg_upgrade does not carry logical replication slots over.
    /// </summary>
    public async Task UpgradeAsync(CancellationToken cancellationToken = default)
    {
        await StopServerAsync("fast", cancellationToken);
        var upgraded = Path.Combine(Root, "data-upgraded");
        await InitializeDataDirectoryAsync(upgraded, cancellationToken);
        await RunAsync(Path.Combine(_binDirectory, "pg_upgrade"),
            ["-b", _binDirectory, "-B", _binDirectory, "-d", _dataDirectory, "-D", upgraded, "-p", Port.ToString(), "-P", Port.ToString(),
             "-s", Root, "-U", "postgres", "--no-sync"], asPostgres: true, cancellationToken, workingDirectory: Root);
        Directory.Move(_dataDirectory, Path.Combine(Root, "data-before-upgrade"));
        Directory.Move(upgraded, _dataDirectory);
        await StartServerAsync(cancellationToken);
        NpgsqlConnection.ClearAllPools();   // pooled connections went with the old server
    }

    /// <summary>Stops the server; <paramref name="mode"/> is pg_ctl's: smart, fast or immediate.</summary>
    public Task StopServerAsync(string mode = "fast", CancellationToken cancellationToken = default) =>
        RunAsync(Path.Combine(_binDirectory, "pg_ctl"), ["-D", _dataDirectory, "-m", mode, "-w", "stop"], asPostgres: true, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            if (File.Exists(Path.Combine(_dataDirectory, "postmaster.pid")))
                await StopServerAsync("immediate");
        }
        catch (Exception)
        {
            // Best effort: the directory goes anyway.
        }
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    static bool IsRoot => Environment.UserName == "root";

    static async Task RunAsync(string program, string[] arguments, bool asPostgres, CancellationToken cancellationToken, string? workingDirectory = null)
    {
        var start = asPostgres && IsRoot
            ? new ProcessStartInfo("su", ["postgres", "-s", "/bin/sh", "-c", string.Join(' ', new[] { program }.Concat(arguments).Select(ShellQuote))])
            : new ProcessStartInfo(program, arguments);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.WorkingDirectory = workingDirectory ?? "/tmp";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
            throw new InvalidOperationException(
                $"{Path.GetFileName(program)} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stderr}{await stdout}");
    }

    static string ShellQuote(string value) => "'" + value.Replace("'", "'\\''") + "'";

    /// <summary>A loopback port nobody listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
