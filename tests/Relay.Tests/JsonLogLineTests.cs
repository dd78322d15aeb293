using Relay.Testing;

namespace Relay.Tests;

/// <summary>The tests' reader of the relay's JSON log lines (Serilog's rendered compact JSON).</summary>
public class JsonLogLineTests
{
    [Fact]
    public void a_clef_line_gives_its_event_id_level_message_and_properties()
    {
        const string line = """{"@t":"2026-11-30T22:00:00.0000000Z","@m":"Created replication slot \"s\" (pgoutput) at \"0/1\"","@i":"a1b2c3d4","@l":"Warning","Slot":"s","Lsn":"0/1","Attempt":3,"SourceContext":"Relay.Postgres.PostgresOutboxSource","EventId":{"Id":2003,"Name":"SlotCreated"}}""";
        var e = JsonLogLine.Parse(line);
        Assert.Equal((2003, "SlotCreated", "Warning"), (e.Id, e.Name, e.Level));
        Assert.Equal("Created replication slot \"s\" (pgoutput) at \"0/1\"", e.Message);
        Assert.Equal("s", e.Property("Slot"));
        Assert.Equal("3", e.Property("Attempt"));
        Assert.Null(e.Property("EventId"));
        Assert.Null(e.Exception);
    }

    [Fact]
    public void information_has_no_level_field_and_an_event_without_id_has_id_zero()
    {
        var e = JsonLogLine.Parse("""{"@t":"2026-11-30T22:00:00Z","@m":"hello","@x":"System.Exception: boom"}""");
        Assert.Equal((0, null, "Information", "System.Exception: boom"), (e.Id, e.Name, e.Level, e.Exception));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Invalid configuration: Relay:Postgres:SlotName: must be 1-63 characters")]
    [InlineData("{\"not\": \"a log event\"}")]
    [InlineData("{ truncated")]
    public void other_lines_are_not_log_events(string line)
    {
        Assert.False(JsonLogLine.TryParse(line, out _));
        Assert.Throws<FormatException>(() => JsonLogLine.Parse(line));
    }
}
