using Relay.Core;

namespace Relay.Options;

/// <summary>Validates <c>Relay:Diagnostics</c> at start, each failure naming its key.</summary>
sealed class DiagnosticsOptionsValidator() : SectionOptionsValidator<DiagnosticsOptions>(DiagnosticsOptions.Section)
{
    protected override IEnumerable<string> Rules(DiagnosticsOptions o) => PositiveDurations((o.LivenessTimeout, nameof(o.LivenessTimeout)));
}
