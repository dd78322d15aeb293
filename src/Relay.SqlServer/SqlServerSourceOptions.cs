namespace Relay.SqlServer;

/// <summary>Placeholder for the SQL Server source's options (configuration section <c>Relay:SqlServer</c>).</summary>
public sealed class SqlServerSourceOptions
{
    public const string Section = "Relay:SqlServer";

    /// <summary>Microsoft.Data.SqlClient connection string.</summary>
    public string ConnectionString { get; set; } = "";
}
