using Relay.Core;
using Relay.SqlServer;

namespace Relay.Tests;

/// <summary>Issue 13, row 8: the File position store admits one relay at a time and never leaves a half-written position.</summary>
public class FilePositionStoreLockTests
{
    static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task a_second_relay_on_the_same_position_file_waits_as_a_standby_until_the_first_lets_go()
    {
        var path = Path.Combine(Path.GetTempPath(), $"relay-position-{Guid.NewGuid():N}.json");
        try
        {
            await using var first = new FilePositionStore(path);
            await using var second = new FilePositionStore(path);
            Assert.Null(await first.ClaimAsync(Token));
            await first.SaveAsync(new SourcePosition(42, 7), Token);

            await Assert.ThrowsAsync<StandbyException>(() => second.ClaimAsync(Token));
            await Assert.ThrowsAsync<StandbyException>(() => second.SaveAsync(new SourcePosition(1), Token));

            await first.DisposeAsync();   // a run that ended, cleanly or not
            Assert.Equal(new SourcePosition(42, 7), await second.ClaimAsync(Token));
            Assert.False(File.Exists(path + ".tmp"));
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".lock");
        }
    }
}
