package dev.tornadodiffusion.training.data;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Area;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The project's captioned-shapes images: flat shapes in the cells of a 3x3 grid on a plain background, drawn with
 * Java2D (anti-aliased) and described by a small caption grammar (the public contract, documented in README):
 * <pre>
 *   a [small|large] COLOR SHAPE [POSITION] on a BG background
 *   a COLOR SHAPE on the left and a COLOR SHAPE on the right on a BG background
 * </pre>
 * COLOR, BG: red green blue yellow orange purple white black (COLOR != BG); SHAPE: circle square triangle star ring
 * cross; POSITION: one of {@link Position} (absent = in the center); size absent = medium.
 * A scene is a deterministic function of (seed, index); some (colour, position, background) combinations are
 * {@link #heldOut held out} of training, so a model can be checked on prompts it never saw.
 */
public final class Shapes {
    private Shapes() {}

    /** The palette, in sRGB. */
    public enum Colour {
        RED(220, 40, 40), GREEN(40, 170, 60), BLUE(40, 80, 220), YELLOW(240, 210, 40),
        ORANGE(245, 140, 30), PURPLE(140, 60, 180), WHITE(245, 245, 245), BLACK(20, 20, 20);

        public final int r, g, b;

        Colour(int r, int g, int b) { this.r = r; this.g = g; this.b = b; }

        public String word() { return name().toLowerCase(Locale.ROOT); }

        /** The palette colour nearest to (r, g, b) in sRGB. */
        public static Colour nearest(float r, float g, float b) {
            Colour best = null;
            float bestD = Float.MAX_VALUE;
            for (Colour c : values()) {
                float d = (r - c.r) * (r - c.r) + (g - c.g) * (g - c.g) + (b - c.b) * (b - c.b);
                if (d < bestD) { bestD = d; best = c; }
            }
            return best;
        }
    }

    public enum Shape {
        CIRCLE, SQUARE, TRIANGLE, STAR, RING, CROSS;

        public String word() { return name().toLowerCase(Locale.ROOT); }
    }

    /** Size words and the shape's extent as a fraction of a grid cell. */
    public enum Size {
        SMALL("small", 0.5), MEDIUM(null, 0.72), LARGE("large", 0.95);

        /** The caption word; null for medium, which captions leave out. */
        public final String word;
        final double extent;

        Size(String word, double extent) { this.word = word; this.extent = extent; }
    }

    /** The grid cells and how captions name them ("on the left" = middle-left, "at the top" = top-middle). */
    public enum Position {
        CENTER("in the center", 1, 1), TOP("at the top", 1, 0), BOTTOM("at the bottom", 1, 2),
        LEFT("on the left", 0, 1), RIGHT("on the right", 2, 1),
        TOP_LEFT("at the top left", 0, 0), TOP_RIGHT("at the top right", 2, 0),
        BOTTOM_LEFT("at the bottom left", 0, 2), BOTTOM_RIGHT("at the bottom right", 2, 2);

        public final String phrase;
        /** Column and row in the 3x3 grid. */
        public final int col, row;

        Position(String phrase, int col, int row) { this.phrase = phrase; this.col = col; this.row = row; }
    }

    public record Item(Size size, Colour colour, Shape shape, Position position) {}

    /**
     * One picture: one item anywhere, or two medium items on the left and on the right.
     * {@code positionNamed} false leaves "in the center" out of a one-item caption.
     */
    public record Scene(List<Item> items, Colour background, boolean positionNamed) {
        public Scene {
            items = List.copyOf(items);
            if (items.isEmpty() || items.size() > 2) throw new IllegalArgumentException("a scene has one or two items, not " + items.size());
            for (Item it : items)
                if (it.colour == background) throw new IllegalArgumentException("item colour " + it.colour.word() + " equals the background");
            if (items.size() == 2 && (items.get(0).position != Position.LEFT || items.get(1).position != Position.RIGHT))
                throw new IllegalArgumentException("two-item scenes have one item on the left and one on the right");
        }

        public String caption() {
            String bg = " on a " + background.word() + " background";
            if (items.size() == 2) {
                Item l = items.get(0), r = items.get(1);
                return "a " + l.colour.word() + " " + l.shape.word() + " on the left and a " + r.colour.word() + " " + r.shape.word()
                        + " on the right" + bg;
            }
            Item it = items.getFirst();
            return "a " + (it.size.word == null ? "" : it.size.word + " ") + it.colour.word() + " " + it.shape.word()
                    + (it.position != Position.CENTER || positionNamed ? " " + it.position.phrase : "") + bg;
        }

        /** Drawn at {@code px} x {@code px}; {@code jitter} moves, turns and tints the shapes slightly. */
        public BufferedImage render(int px, SplittableRandom jitter) {
            BufferedImage img = new BufferedImage(px, px, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            try {
                g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
                g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
                g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
                g.setColor(tint(background, jitter));
                g.fillRect(0, 0, px, px);
                double cell = px / 3.0;
                for (Item it : items) {
                    double extent = it.size.extent * cell;
                    double slack = (cell - extent) / 2 * 0.8;   // the shape stays inside its cell
                    double cx = (it.position.col + 0.5) * cell + slack * (2 * jitter.nextDouble() - 1);
                    double cy = (it.position.row + 0.5) * cell + slack * (2 * jitter.nextDouble() - 1);
                    double turn = it.shape == Shape.CIRCLE || it.shape == Shape.RING ? 0 : Math.toRadians(10 * (2 * jitter.nextDouble() - 1));
                    AffineTransform at = new AffineTransform();
                    at.translate(cx, cy);
                    at.rotate(turn);
                    g.setColor(tint(it.colour, jitter));
                    g.fill(at.createTransformedShape(outline(it.shape, extent)));
                }
            } finally {
                g.dispose();
            }
            return img;
        }

        /** The scene a caption of the grammar describes (center, medium where it names no position or size). */
        public static Scene parse(String caption) {
            String c = caption.trim().toLowerCase(Locale.ROOT).replaceAll("\\s+", " ");
            Matcher two = TWO.matcher(c);
            if (two.matches())
                return new Scene(List.of(new Item(Size.MEDIUM, colour(two.group(1)), shape(two.group(2)), Position.LEFT),
                        new Item(Size.MEDIUM, colour(two.group(3)), shape(two.group(4)), Position.RIGHT)), colour(two.group(5)), true);
            Matcher one = ONE.matcher(c);
            if (!one.matches()) throw new IllegalArgumentException("'" + caption + "' is not a caption of the shapes grammar");
            Size size = one.group(1) == null ? Size.MEDIUM : Size.valueOf(one.group(1).toUpperCase(Locale.ROOT));
            Position pos = Position.CENTER;
            if (one.group(4) != null) for (Position p : Position.values()) if (p.phrase.equals(one.group(4))) pos = p;
            return new Scene(List.of(new Item(size, colour(one.group(2)), shape(one.group(3)), pos)), colour(one.group(5)), one.group(4) != null);
        }
    }

    private static final String COLOURS = "(red|green|blue|yellow|orange|purple|white|black)";
    private static final String SHAPES = "(circle|square|triangle|star|ring|cross)";
    private static final Pattern ONE = Pattern.compile("a (?:(small|large) )?" + COLOURS + " " + SHAPES
            + "(?: (in the center|at the top|at the bottom|on the left|on the right|at the top left|at the top right|at the bottom left|at the bottom right))?"
            + " on a " + COLOURS + " background");
    private static final Pattern TWO = Pattern.compile("a " + COLOURS + " " + SHAPES + " on the left and a " + COLOURS + " " + SHAPES
            + " on the right on a " + COLOURS + " background");

    private static Colour colour(String w) { return Colour.valueOf(w.toUpperCase(Locale.ROOT)); }

    private static Shape shape(String w) { return Shape.valueOf(w.toUpperCase(Locale.ROOT)); }

    private static Color tint(Colour c, SplittableRandom jitter) {
        return new Color(wiggle(c.r, jitter), wiggle(c.g, jitter), wiggle(c.b, jitter));
    }

    private static int wiggle(int v, SplittableRandom jitter) {
        return Math.clamp(v + jitter.nextInt(-6, 7), 0, 255);
    }

    /** The shape centred on the origin, {@code d} across. */
    static java.awt.Shape outline(Shape shape, double d) {
        double r = d / 2;
        return switch (shape) {
            case CIRCLE -> new Ellipse2D.Double(-r, -r, d, d);
            case SQUARE -> new Rectangle2D.Double(-0.85 * r, -0.85 * r, 1.7 * r, 1.7 * r);
            case TRIANGLE -> polygon(new double[]{0, r, -r}, new double[]{-r, 0.8 * r, 0.8 * r});
            case STAR -> {
                double[] xs = new double[10], ys = new double[10];
                for (int i = 0; i < 10; i++) {
                    double rad = i % 2 == 0 ? r : 0.45 * r, a = -Math.PI / 2 + i * Math.PI / 5;
                    xs[i] = rad * Math.cos(a);
                    ys[i] = rad * Math.sin(a) + 0.1 * r;
                }
                yield polygon(xs, ys);
            }
            case RING -> {
                Area ring = new Area(new Ellipse2D.Double(-r, -r, d, d));
                ring.subtract(new Area(new Ellipse2D.Double(-0.55 * r, -0.55 * r, 1.1 * r, 1.1 * r)));
                yield ring;
            }
            case CROSS -> {
                double w = r / 3;
                Area cross = new Area(new Rectangle2D.Double(-r, -w, d, 2 * w));
                cross.add(new Area(new Rectangle2D.Double(-w, -r, 2 * w, d)));
                yield cross;
            }
        };
    }

    private static Path2D polygon(double[] xs, double[] ys) {
        Path2D p = new Path2D.Double();
        p.moveTo(xs[0], ys[0]);
        for (int i = 1; i < xs.length; i++) p.lineTo(xs[i], ys[i]);
        p.closePath();
        return p;
    }

    /**
     * Held out of training: one-item scenes whose (colour, position, background) satisfy
     * {@code (colour + 3 position + 5 background) mod 7 == 0}, two-item scenes whose (left, right, background) colours
     * satisfy {@code (left + 3 right + 5 background) mod 7 == 0} (enum ordinals). Every pair of the three still
     * occurs in training, so the held-out prompts test composition, not new words.
     */
    public static boolean heldOut(Scene s) {
        int bg = s.background().ordinal();
        if (s.items().size() == 2) return (s.items().get(0).colour().ordinal() + 3 * s.items().get(1).colour().ordinal() + 5 * bg) % 7 == 0;
        Item it = s.items().getFirst();
        return (it.colour().ordinal() + 3 * it.position().ordinal() + 5 * bg) % 7 == 0;
    }

    /** A random scene of the grammar (two items with probability 0.35) on the requested side of the held-out split. */
    public static Scene randomScene(SplittableRandom r, boolean heldOut) {
        while (true) {
            Scene s = r.nextDouble() < 0.35 ? randomPair(r) : randomSingle(r);
            if (heldOut(s) == heldOut) return s;
        }
    }

    private static Scene randomSingle(SplittableRandom r) {
        Colour bg = pick(Colour.values(), r);
        Colour c = otherThan(bg, r);
        Position p = pick(Position.values(), r);
        return new Scene(List.of(new Item(pick(Size.values(), r), c, pick(Shape.values(), r), p)), bg, p != Position.CENTER || r.nextBoolean());
    }

    private static Scene randomPair(SplittableRandom r) {
        Colour bg = pick(Colour.values(), r);
        List<Item> items = new ArrayList<>(2);
        items.add(new Item(Size.MEDIUM, otherThan(bg, r), pick(Shape.values(), r), Position.LEFT));
        items.add(new Item(Size.MEDIUM, otherThan(bg, r), pick(Shape.values(), r), Position.RIGHT));
        return new Scene(items, bg, true);
    }

    private static Colour otherThan(Colour bg, SplittableRandom r) {
        while (true) {
            Colour c = pick(Colour.values(), r);
            if (c != bg) return c;
        }
    }

    private static <T> T pick(T[] values, SplittableRandom r) { return values[r.nextInt(values.length)]; }

    /** {@code n} distinct held-out scenes, drawn deterministically from {@code seed}: the prompts a model is checked on. */
    public static List<Scene> heldOutScenes(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Scene> out = new ArrayList<>(n);
        java.util.Set<String> seen = new java.util.HashSet<>();
        while (out.size() < n) {
            Scene s = randomScene(r, true);
            if (seen.add(s.caption())) out.add(s);
        }
        return out;
    }
}
