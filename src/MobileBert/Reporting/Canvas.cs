namespace MobileBert.Reporting;

/// <summary>An RGB raster on a white background with the few drawing primitives the plots need; drawing off the edge is clipped.</summary>
internal sealed class Canvas(int width, int height)
{
    public int Width => width;
    public int Height => height;
    public byte[] Pixels { get; } = Enumerable.Repeat((byte)255, width * height * 3).ToArray();   // [H, W, 3]

    public void Set(int x, int y, (byte R, byte G, byte B) c)
    {
        if ((uint)x >= (uint)width || (uint)y >= (uint)height) return;
        int i = (y * width + x) * 3;
        Pixels[i] = c.R; Pixels[i + 1] = c.G; Pixels[i + 2] = c.B;
    }

    /// <summary>True when some pixel inside <paramref name="r"/> (clipped to the canvas) is not white.</summary>
    public bool AnyInk(PixelRect r)
    {
        for (int y = Math.Max(0, r.Top); y <= Math.Min(height - 1, r.Bottom); y++)
            for (int x = Math.Max(0, r.Left); x <= Math.Min(width - 1, r.Right); x++)
            {
                int i = (y * width + x) * 3;
                if ((Pixels[i] & Pixels[i + 1] & Pixels[i + 2]) != 255) return true;
            }
        return false;
    }

    public void Fill(PixelRect r, (byte, byte, byte) c)
    {
        for (int y = r.Top; y <= r.Bottom; y++) for (int x = r.Left; x <= r.Right; x++) Set(x, y, c);
    }

    public void Frame(PixelRect r, (byte, byte, byte) c)
    {
        Line(r.Left, r.Top, r.Right, r.Top, c); Line(r.Left, r.Bottom, r.Right, r.Bottom, c);
        Line(r.Left, r.Top, r.Left, r.Bottom, c); Line(r.Right, r.Top, r.Right, r.Bottom, c);
    }

    public void Dot(int x, int y, (byte, byte, byte) c) { for (int dy = -1; dy <= 1; dy++) for (int dx = -1; dx <= 1; dx++) Set(x + dx, y + dy, c); }

    /// <summary>Bresenham line; <paramref name="thick"/> = 2 also sets the pixel right of and below each one.</summary>
    public void Line(int x0, int y0, int x1, int y1, (byte, byte, byte) c, int thick = 1)
    {
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
        while (true)
        {
            Set(x0, y0, c);
            if (thick > 1) { Set(x0 + 1, y0, c); Set(x0, y0 + 1, c); }
            if (x0 == x1 && y0 == y1) break;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x0 += sx; }
            if (e2 <= dx) { err += dx; y0 += sy; }
        }
    }

    /// <summary>A vertical dashed line (5 pixels on, 4 off) from y0 down to y1.</summary>
    public void DashedVLine(int x, int y0, int y1, (byte, byte, byte) c) { for (int y = y0; y <= y1; y++) if ((y - y0) % 9 < 5) Set(x, y, c); }

    /// <summary>Draws <paramref name="s"/> with its top-left corner at (x, y); <paramref name="bold"/> doubles each stroke sideways.</summary>
    public void Text(int x, int y, string s, (byte, byte, byte) c, int scale = 1, bool bold = false)
    {
        foreach (char ch in s)
        {
            var g = BitmapFont.Glyph(ch);
            if (g is not null)
                for (int r = 0; r < g.Length; r++)
                    for (int col = 0; col < BitmapFont.Width; col++)
                        if ((g[r] >> (BitmapFont.Width - 1 - col) & 1) != 0)
                            for (int sy = 0; sy < scale; sy++)
                                for (int sx = 0; sx < scale + (bold ? 1 : 0); sx++) Set(x + col * scale + sx, y + r * scale + sy, c);
            x += BitmapFont.Advance * scale;
        }
    }
}
