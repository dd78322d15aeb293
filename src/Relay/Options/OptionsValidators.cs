using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Relay.Core;

namespace Relay.Options;

/// <summary>
/// Validates an options class by its data annotations and reports each failure with its full configuration key
/// (e.g. <c>Relay:Postgres:ConnectionString</c>), so an operator knows exactly what to change.
/// </summary>
sealed class AnnotatedOptionsValidator<TOptions>(string section, Func<TOptions, IEnumerable<string>>? rules = null)
    : IValidateOptions<TOptions> where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        var failures = results
            .Select(r => $"{section}:{string.Join(",", r.MemberNames)}: {Describe(r)}")
            .Concat(rules?.Invoke(options) ?? [])
            .ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    static string Describe(ValidationResult result) => result.ErrorMessage switch
    {
        { } message when message.EndsWith(" field is required.", StringComparison.Ordinal) => "is required",
        { } message => message.Replace("The field ", "", StringComparison.Ordinal),
        null => "is invalid",
    };
}

static class OptionsRules
{
    /// <summary>Durations that must be positive, each failure naming its key.</summary>
    public static IEnumerable<string> PositiveDurations(string section, params (TimeSpan Value, string Key)[] durations) =>
        durations.Where(d => d.Value <= TimeSpan.Zero).Select(d => $"{section}:{d.Key}: must be a positive duration such as 00:00:05");

    public static IEnumerable<string> Pipeline(PipelineOptions o) => PositiveDurations(PipelineOptions.Section,
        (o.ConfirmInterval, nameof(o.ConfirmInterval)), (o.DrainTimeout, nameof(o.DrainTimeout)),
        (o.RestartDelay, nameof(o.RestartDelay)), (o.MaxRestartDelay, nameof(o.MaxRestartDelay)),
        (o.StandbyRetryInterval, nameof(o.StandbyRetryInterval)), (o.StallWarningAfter, nameof(o.StallWarningAfter)));

    public static IEnumerable<string> Outbox(OutboxOptions options)
    {
        string? problem = null;
        try
        {
            OutboxTableMapping.Create(options);
        }
        catch (RelayConfigurationException e)
        {
            problem = e.Message;
        }
        if (problem is not null)
            yield return problem;
    }
}
