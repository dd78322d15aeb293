using Microsoft.Extensions.Logging.Abstractions;
using Relay.Core;
using Relay.SqlServer;

namespace Relay.Tests;

/// <summary>Issue 13, row 11: errors only an operator can fix exit with the fix; the lease survives a reconnect.</summary>
public class SqlServerOperabilityTests
{
    static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(229, "GRANT SELECT ON SCHEMA::cdc")]
    [InlineData(4060, "CREATE USER")]
    [InlineData(313, "ADD MEMBER")]
    [InlineData(262, "CREATE TABLE")]
    public void permission_errors_exit_with_the_grant_to_run(int number, string fix)
    {
        var error = SqlServerErrors.Translate(number, "denied.", new InvalidOperationException());
        var configuration = Assert.IsType<RelayConfigurationException>(error);
        Assert.Contains(fix, configuration.Message);
        Assert.Contains("Relay:SqlServer:ConnectionString", configuration.Message);
    }

    [Fact]
    public void transient_errors_are_retried()
    {
        Assert.IsType<SourceUnavailableException>(SqlServerErrors.Translate(10060, "timeout", new InvalidOperationException()));
        Assert.Null(SqlServerErrors.Translate(1205, "deadlock victim", new InvalidOperationException()));
    }

    [Fact]
    public void every_run_of_a_relay_claims_its_position_as_the_same_owner()
    {
        var options = Microsoft.Extensions.Options.Options.Create(new SqlServerSourceOptions { ConnectionString = "Server=nowhere" });
        var outbox = OutboxMapping.For(new OutboxOptions { Tables = [new() { Table = "dbo.outbox" }] });
        var source = new SqlServerOutboxSource(options, outbox, NullLoggerFactory.Instance);
        var first = Assert.IsType<SqlPositionStore>(source.CreateStore());
        var second = Assert.IsType<SqlPositionStore>(source.CreateStore());
        Assert.Equal(first.Owner, second.Owner);
        Assert.Contains($"/{Environment.ProcessId}/", first.Owner);
        // Another relay (another host, even in the same test process) is another owner.
        Assert.NotEqual(first.Owner, Assert.IsType<SqlPositionStore>(new SqlServerOutboxSource(options, outbox, NullLoggerFactory.Instance).CreateStore()).Owner);
    }

    [Fact]
    public async Task an_unreadable_minimum_lsn_is_an_error_not_a_passed_retention_check()
    {
        var (cdc, tables) = FakeCdc.TwoTables();
        cdc.Changes["dbo_orders_outbox"] = [(new(10, 1), "o1")];
        cdc.MinLsn["dbo_billing_outbox"] = 0;   // what fn_cdc_get_min_lsn answers a login outside the gating role
        var error = await Assert.ThrowsAsync<RelayConfigurationException>(() =>
            FakeCdc.ReadAsync(cdc, tables, new MemoryStore(new SourcePosition(5, 1)), 1));
        Assert.Contains("sys.fn_cdc_get_min_lsn(N'dbo_billing_outbox') returned 0x00000000000000000000", error.Message);
        Assert.Contains("ADD MEMBER", error.Message);
    }
}
