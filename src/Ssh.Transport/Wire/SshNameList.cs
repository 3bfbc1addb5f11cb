using System.Text;

namespace Ssh.Transport;

/// <summary>
/// A "name-list" of RFC 4251 §5 as received: comma-separated names over the message's bytes, enumerated without
/// allocating.
/// </summary>
public readonly ref struct SshNameList
{
    /// <summary>The default longest name-list accepted, in bytes.</summary>
    /// <remarks>OpenSSH's own lists are a few hundred bytes; 8 KiB leaves ample room for long vendor lists.</remarks>
    public const int DefaultMaxLength = 8192;

    private readonly ReadOnlySpan<byte> _value;

    internal SshNameList(ReadOnlySpan<byte> value) => _value = value;

    /// <summary>The list as sent, commas included.</summary>
    public ReadOnlySpan<byte> Value => _value;

    /// <summary>True when the list has no names.</summary>
    public bool IsEmpty => _value.IsEmpty;

    /// <summary>True when <paramref name="name"/> is one of the names.</summary>
    /// <param name="name">The ASCII name to look for.</param>
    public bool Contains(ReadOnlySpan<byte> name)
    {
        foreach (ReadOnlySpan<byte> item in this)
        {
            if (item.SequenceEqual(name))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The names as strings (allocates).</summary>
    public string[] ToArray()
    {
        if (_value.IsEmpty)
        {
            return [];
        }

        var result = new string[_value.Count((byte)',') + 1];
        int i = 0;
        foreach (ReadOnlySpan<byte> item in this)
        {
            result[i++] = Encoding.ASCII.GetString(item);
        }

        return result;
    }

    /// <summary>The list as one string, commas included (allocates).</summary>
    public override string ToString() => Encoding.ASCII.GetString(_value);

    /// <summary>Enumerates the names.</summary>
    public Enumerator GetEnumerator() => new(_value);

    /// <summary>RFC 4251 §5: names are non-empty, printable US-ASCII without commas or white space.</summary>
    internal static bool IsValid(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return true;
        }

        if (value[0] == (byte)',' || value[^1] == (byte)',' || value.IndexOf(",,"u8) >= 0)
        {
            return false;
        }

        // Printable ASCII other than space (0x21-0x7E).
        return !value.ContainsAnyExceptInRange((byte)0x21, (byte)0x7E);
    }

    /// <summary>Enumerates the names of a <see cref="SshNameList"/>.</summary>
    public ref struct Enumerator
    {
        private ReadOnlySpan<byte> _rest;
        private bool _done;

        internal Enumerator(ReadOnlySpan<byte> value)
        {
            _rest = value;
            _done = value.IsEmpty;
            Current = default;
        }

        /// <summary>The current name.</summary>
        public ReadOnlySpan<byte> Current { get; private set; }

        /// <summary>Moves to the next name.</summary>
        public bool MoveNext()
        {
            if (_done)
            {
                return false;
            }

            int comma = _rest.IndexOf((byte)',');
            if (comma < 0)
            {
                Current = _rest;
                _done = true;
            }
            else
            {
                Current = _rest[..comma];
                _rest = _rest[(comma + 1)..];
            }

            return true;
        }
    }
}
