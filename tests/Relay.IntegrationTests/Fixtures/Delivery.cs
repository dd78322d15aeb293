using Relay.DevServices;

namespace Relay.IntegrationTests.Fixtures;

/// <summary>What consumers saw, judged against what the database committed.</summary>
static class Delivery
{
    /// <summary>
    /// Asserts every expected event id arrived, nothing else did, and within each key the first delivery of each event
    /// follows the order given by <paramref name="order"/> (e.g. a sequence column). Returns the number of duplicates.
    /// </summary>
    public static int AssertComplete(IReadOnlyCollection<ReceivedMessage> messages, IReadOnlySet<string> expectedIds, Func<ReceivedMessage, long> order)
    {
        var ids = messages.Select(m => m.Header("id")!).ToHashSet();
        var missing = expectedIds.Except(ids).Take(5).ToList();
        Assert.True(missing.Count == 0, $"{expectedIds.Count - ids.Intersect(expectedIds).Count()} events never arrived, e.g. {string.Join(", ", missing)}");
        Assert.Empty(ids.Except(expectedIds));

        foreach (var key in messages.GroupBy(m => m.Key))
        {
            Assert.Single(key.Select(m => m.Partition).Distinct());
            var seen = new HashSet<string>();
            var firstDeliveries = key.OrderBy(m => m.Offset).Where(m => seen.Add(m.Header("id")!)).Select(order).ToList();
            Assert.True(firstDeliveries.SequenceEqual(firstDeliveries.Order()),
                $"key {key.Key}: first deliveries out of order: {string.Join(",", firstDeliveries.Take(20))}");
        }
        return messages.Count - ids.Count;
    }
}
