namespace Relay.Core;

/// <summary>One prerequisite checked by <c>relay check</c>: what, whether it holds, what was seen, and the fix.</summary>
public sealed record PreflightCheck(string Name, bool Passed, string Detail, string? Fix = null)
{
    public static PreflightCheck Pass(string name, string detail) => new(name, true, detail);
    public static PreflightCheck Fail(string name, string detail, string fix) => new(name, false, detail, fix);
}
