using System.ComponentModel.DataAnnotations;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;

namespace Relay.Core;

/// <summary>
/// Validates one configuration section: its data annotations, then the rules of <see cref="Rules"/>. Every failure
/// names its full key (e.g. <c>Relay:Postgres:ConnectionString</c>) so an operator knows exactly what to change.
/// </summary>
public abstract class SectionOptionsValidator<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] TOptions>(string section)
    : IValidateOptions<TOptions> where TOptions : class
{
    protected string Section { get; } = section;

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification =
        "The annotations read are those of TOptions' public properties, which the type parameter keeps from trimming.")]
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options, typeof(TOptions).Name, null, null), results, validateAllProperties: true);
        var failures = results
            .Select(r => $"{Section}:{string.Join(",", r.MemberNames)}: {Describe(r)}")
            .Concat(Rules(options))
            .ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Rules across fields or beyond annotations, each failure as <c>key: problem</c>.</summary>
    protected virtual IEnumerable<string> Rules(TOptions options) => [];

    /// <summary>Durations that must be positive, each failure naming its key.</summary>
    protected IEnumerable<string> PositiveDurations(params (TimeSpan Value, string Key)[] durations) =>
        durations.Where(d => d.Value <= TimeSpan.Zero).Select(d => $"{Section}:{d.Key}: must be a positive duration such as 00:00:05");

    static string Describe(ValidationResult result) => result.ErrorMessage switch
    {
        { } message when message.EndsWith(" field is required.", StringComparison.Ordinal) => "is required",
        { } message => message.Replace("The field ", "", StringComparison.Ordinal),
        null => "is invalid",
    };
}
