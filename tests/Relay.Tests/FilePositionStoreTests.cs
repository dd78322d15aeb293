using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.SqlServer;

namespace Relay.Tests;

public class FilePositionStoreTests
{
    [Fact]
    public async Task a_saved_position_is_claimed_back()
    {
        var path = Path.Combine(Path.GetTempPath(), $"relay-position-{Guid.NewGuid():N}.json");
        try
        {
            var store = new FilePositionStore(path);
            Assert.Null(await store.ClaimAsync(TestContext.Current.CancellationToken));
            var position = new SourcePosition(SqlServerLsn.Parse("0x0000002A000001F80003"), 7);
            await store.SaveAsync(position, TestContext.Current.CancellationToken);
            await store.ReleaseAsync(TestContext.Current.CancellationToken);
            await using var next = new FilePositionStore(path);
            Assert.Equal(position, await next.ClaimAsync(TestContext.Current.CancellationToken));
            Assert.False(File.Exists(path + ".tmp"));
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".lock");
        }
    }
}
