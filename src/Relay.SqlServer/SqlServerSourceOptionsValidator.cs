using Relay.Core;

namespace Relay.SqlServer;

/// <summary>Validates <c>Relay:SqlServer</c> at start, each failure naming its key.</summary>
sealed class SqlServerSourceOptionsValidator() : SectionOptionsValidator<SqlServerSourceOptions>(SqlServerSourceOptions.Section)
{
    protected override IEnumerable<string> Rules(SqlServerSourceOptions options)
    {
        foreach (var problem in PositiveDurations((options.PollInterval, nameof(options.PollInterval)),
                     (options.MaxPollInterval, nameof(options.MaxPollInterval)), (options.LeaseDuration, nameof(options.LeaseDuration)),
                     (options.CaptureCheckInterval, nameof(options.CaptureCheckInterval)), (options.CaptureStalledAfter, nameof(options.CaptureStalledAfter))))
            yield return problem;
        if (options.PositionStore == PositionStoreKind.File && string.IsNullOrWhiteSpace(options.PositionFile))
            yield return $"{Section}:PositionFile: is required with PositionStore = File";
        if (options.PositionTable.Split('.') is not [{ Length: > 0 }, { Length: > 0 }])
            yield return $"{Section}:PositionTable: '{options.PositionTable}' is not schema.table";
    }
}
