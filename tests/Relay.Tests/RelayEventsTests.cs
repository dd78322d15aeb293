using System.Reflection;
using Microsoft.Extensions.Logging;
using Relay.Testing;

namespace Relay.Tests;

/// <summary>The event ids tests assert (<see cref="RelayEvents"/>) are the ones the relay's <c>[LoggerMessage]</c> methods declare.</summary>
public class RelayEventsTests
{
    static readonly string[] NotTheRelay = ["Relay.Tests", "Relay.Testing", "Relay.DevServices"];

    /// <summary>Every [LoggerMessage] method in the relay's assemblies (Relay*.dll beside the tests), by event id.</summary>
    static Dictionary<int, string> DeclaredEvents()
    {
        var declared = new Dictionary<int, string>();
        foreach (var file in Directory.GetFiles(AppContext.BaseDirectory, "Relay*.dll"))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            if (NotTheRelay.Contains(name))
                continue;
            var methods = Assembly.Load(name).GetTypes()
                .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly));
            foreach (var method in methods)
                if (method.GetCustomAttribute<LoggerMessageAttribute>() is { } message)
                    Assert.True(declared.TryAdd(message.EventId, $"{name}: {method.Name}"), $"event id {message.EventId} declared twice: {declared.GetValueOrDefault(message.EventId)} and {name}: {method.Name}");
        }
        return declared;
    }

    [Fact]
    public void each_event_id_the_tests_use_is_declared_by_the_relay_method_of_that_name()
    {
        var declared = DeclaredEvents();
        Assert.True(declared.Count > 30, $"found only {declared.Count} [LoggerMessage] methods");
        foreach (var field in typeof(RelayEvents).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var id = (int)field.GetRawConstantValue()!;
            Assert.True(declared.TryGetValue(id, out var method), $"RelayEvents.{field.Name} = {id}: no [LoggerMessage] declares it");
            Assert.EndsWith(": " + field.Name, method);
        }
    }
}
