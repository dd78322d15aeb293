using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Relay.Core;

namespace Relay;

/// <summary>Every configuration problem at once, each naming its key, from the validators registered with the options.</summary>
public static class RelayConfigurationValidation
{
    /// <summary>Runs the validators registered with <c>ValidateOnStart</c> (what the host does when it starts); empty when valid.</summary>
    public static IReadOnlyList<string> ValidateRelayConfiguration(this IServiceProvider services)
    {
        try
        {
            services.GetRequiredService<IStartupValidator>().Validate();
            return [];
        }
        catch (Exception e) when (Failures(e) is { } failures)
        {
            return failures;
        }
    }

    /// <summary>The configuration problems an exception carries, or null when it is about something else.</summary>
    public static IReadOnlyList<string>? Failures(Exception exception) => exception switch
    {
        OptionsValidationException e => [.. e.Failures],
        RelayConfigurationException e => [e.Message],
        AggregateException e when e.InnerExceptions.All(i => Failures(i) is not null) =>
            [.. e.InnerExceptions.SelectMany(i => Failures(i)!)],
        _ => null,
    };
}
