using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Ssh.Transport.Tests.Infrastructure;

/// <summary>One measurement of an instrument of the "Ssh.Transport" meter, with its tags.</summary>
internal sealed record CapturedMeasurement(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags)
{
    public object? this[string tag] => Tags.GetValueOrDefault(tag);

    public override string ToString() => $"{Instrument} {Value} {{{string.Join(", ", Tags.Select(t => $"{t.Key}={t.Value}"))}}}";
}

/// <summary>
/// Listens to the "Ssh.Transport" meter and activity source. Both are static, shared with whatever else runs in the
/// process: tests give their connections a server endpoint of their own and look only at what carries it.
/// </summary>
internal sealed class TelemetryCapture : IDisposable
{
    private readonly MeterListener _meters = new();
    private readonly ActivityListener _activities;
    private readonly List<CapturedMeasurement> _measurements = [];
    private readonly List<Activity> _stopped = [];

    public TelemetryCapture()
    {
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Ssh.Transport")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _meters.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _meters.Start();

        _activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Ssh.Transport",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                lock (_stopped)
                {
                    _stopped.Add(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(_activities);
    }

    /// <summary>A server endpoint no other test uses: its host is the server.address to filter by.</summary>
    public static System.Net.DnsEndPoint UniqueServer() => new($"t{Guid.NewGuid():N}.test", 22);

    public IReadOnlyList<CapturedMeasurement> Measurements(string instrument, string serverAddress)
    {
        lock (_measurements)
        {
            return [.. _measurements.Where(m => m.Instrument == instrument && Equals(m["server.address"], serverAddress))];
        }
    }

    /// <summary>Each instrument's sum of values for one role (for the up-down counters: the count now).</summary>
    public double Sum(string instrument, string serverAddress, string role) =>
        Measurements(instrument, serverAddress).Where(m => Equals(m["ssh.role"], role)).Sum(m => m.Value);

    /// <summary>The cumulative ssh.io.* totals now, per (role, direction).</summary>
    public Dictionary<(string Role, string Direction), long> ObserveTraffic(string instrument)
    {
        lock (_measurements)
        {
            _measurements.RemoveAll(m => m.Instrument.StartsWith("ssh.io.", StringComparison.Ordinal));
        }

        _meters.RecordObservableInstruments();
        lock (_measurements)
        {
            return _measurements.Where(m => m.Instrument == instrument)
                .ToDictionary(m => ((string)m["ssh.role"]!, (string)m["network.io.direction"]!), m => (long)m.Value);
        }
    }

    public IReadOnlyList<Activity> Activities(string name, string serverAddress)
    {
        lock (_stopped)
        {
            return [.. _stopped.Where(a => a.OperationName == name && Equals(a.GetTagItem("server.address"), serverAddress))];
        }
    }

    public void Dispose()
    {
        _meters.Dispose();
        _activities.Dispose();
    }

    private void Add<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        where T : struct
    {
        var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        lock (_measurements)
        {
            _measurements.Add(new CapturedMeasurement(instrument.Name, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture), copy));
        }
    }
}
