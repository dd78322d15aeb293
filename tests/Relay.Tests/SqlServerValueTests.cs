using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Relay.Core;
using Relay.SqlServer;

namespace Relay.Tests;

/// <summary>Issue 13, row 10: values as SQL Server (and Debezium) print them; columns Relay cannot read refused at start.</summary>
public class SqlServerValueTests
{
    static CancellationToken Token => TestContext.Current.CancellationToken;

    static string Text(object value) => Encoding.UTF8.GetString(SqlCdcClient.ToBytes(value)!);

    [Fact]
    public void uniqueidentifier_and_bit_read_as_convert_to_nvarchar_prints_them()
    {
        Assert.Equal("6F9619FF-8B86-D011-B42D-00C04FC964FF", Text(new Guid("6f9619ff-8b86-d011-b42d-00c04fc964ff")));
        Assert.Equal("1", Text(true));
        Assert.Equal("0", Text(false));
        Assert.Equal("12.50", Text(12.50m));
        Assert.Null(SqlCdcClient.ToBytes(DBNull.Value));
    }

    [Theory]
    [InlineData("CLR type geography")]
    [InlineData("CLR type hierarchyid")]
    [InlineData("CLR type MyCompany.Money")]
    [InlineData("sql_variant")]
    public async Task a_mapped_column_of_a_type_relay_cannot_read_is_refused_at_start_naming_it(string type)
    {
        var (cdc, tables) = FakeCdc.TwoTables();
        var types = FakeCdc.Captured.ToDictionary(c => c, _ => "nvarchar");
        types["payload"] = type;
        cdc.Instances[1] = cdc.Instances[1] with { ColumnTypes = types };
        var source = new SqlServerOutboxSource(FakeCdc.Options(), tables, NullLogger.Instance, () => cdc, () => new MemoryStore(null));
        var error = await Assert.ThrowsAsync<RelayConfigurationException>(() => source.PrepareAsync(Token));
        Assert.StartsWith($"Relay:Outbox:Tables:1:PayloadColumn: column 'payload' of dbo.billing_outbox has type {type}", error.Message);
    }

    [Fact]
    public async Task columns_of_built_in_types_are_accepted()
    {
        var (cdc, tables) = FakeCdc.TwoTables();
        var types = FakeCdc.Captured.ToDictionary(c => c, _ => "nvarchar");
        types["id"] = "uniqueidentifier";
        types["payload"] = "varbinary";
        cdc.Instances[1] = cdc.Instances[1] with { ColumnTypes = types };
        var source = new SqlServerOutboxSource(FakeCdc.Options(), tables, NullLogger.Instance, () => cdc, () => new MemoryStore(null));
        await source.PrepareAsync(Token);
    }
}
