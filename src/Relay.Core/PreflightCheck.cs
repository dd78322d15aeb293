namespace Relay.Core;

/// <summary>
/// One prerequisite as found by a source or by <c>relay check</c>: what, how it stands, what was seen, and the fix.
/// The daemon and <c>relay check</c> read the same findings: a failure stops the daemon at start, a warning is logged.
/// </summary>
public sealed record PreflightCheck(string Name, CheckSeverity Severity, string Detail, string? Fix = null)
{
    public bool Passed => Severity != CheckSeverity.Fail;

    public static PreflightCheck Pass(string name, string detail) => new(name, CheckSeverity.Pass, detail);
    public static PreflightCheck Warn(string name, string detail, string fix) => new(name, CheckSeverity.Warn, detail, fix);
    public static PreflightCheck Fail(string name, string detail, string fix) => new(name, CheckSeverity.Fail, detail, fix);
}

public enum CheckSeverity { Pass, Warn, Fail }
