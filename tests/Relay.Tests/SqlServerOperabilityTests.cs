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
    public void every_position_store_of_a_process_claims_as_the_same_owner()
    {
        var options = new SqlServerSourceOptions { ConnectionString = "Server=nowhere" };
        Assert.Equal(GetOwner(new SqlPositionStore(options)), GetOwner(new SqlPositionStore(options)));
        Assert.Contains($"/{Environment.ProcessId}/", SqlPositionStore.ProcessOwner);

        static string GetOwner(SqlPositionStore store) =>
            (string)typeof(SqlPositionStore).GetField("_owner", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(store)!;
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
