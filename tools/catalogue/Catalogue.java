// Reads every configuration option a Flink release defines, from the release's own jars.
//
//   java -cp "<flink>/lib/*" tools/catalogue/Catalogue.java <flink>/lib > keys.tsv
//
// Every class under org/apache/flink/ in the jars of the given directory whose constant pool
// names ConfigOption is loaded, and each public static ConfigOption field read: its key, its
// value type, its default, whether it is deprecated (the field carries @Deprecated), and its
// fallback keys (the keys the release still reads in its place, deprecated or not). Output:
// one line per key, sorted, tab-separated:
//
//   key  type  default  flags  fallbacks
//
// flags: "d" when deprecated; fallbacks: "key" (a deprecated fallback) or "=key" (a
// fallback the release does not deprecate), comma-separated. Tabs and newlines in defaults
// are escaped. Nothing is written when no option was found.

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.TreeMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

public class Catalogue {
    static final byte[] MARK = "org/apache/flink/configuration/ConfigOption".getBytes(StandardCharsets.US_ASCII);

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: Catalogue <flink lib directory>");
            System.exit(2);
        }
        ClassLoader loader = Catalogue.class.getClassLoader();
        Class<?> optionClass = Class.forName("org.apache.flink.configuration.ConfigOption", false, loader);
        TreeMap<String, String> lines = new TreeMap<>();
        File[] jars = new File(args[0]).listFiles((d, n) -> n.endsWith(".jar"));
        if (jars == null) {
            System.err.println("not a directory: " + args[0]);
            System.exit(2);
        }
        for (File jar : jars) {
            try (JarFile jf = new JarFile(jar)) {
                Enumeration<JarEntry> entries = jf.entries();
                while (entries.hasMoreElements()) {
                    JarEntry e = entries.nextElement();
                    String name = e.getName();
                    if (!name.startsWith("org/apache/flink/") || !name.endsWith(".class")
                            || name.startsWith("org/apache/flink/shaded/")) {
                        continue;
                    }
                    byte[] bytes;
                    try (InputStream in = jf.getInputStream(e)) {
                        bytes = readAll(in);
                    }
                    if (!contains(bytes, MARK)) {
                        continue;
                    }
                    String cls = name.substring(0, name.length() - 6).replace('/', '.');
                    options(cls, loader, optionClass, lines);
                }
            }
        }
        StringBuilder out = new StringBuilder();
        for (String l : lines.values()) {
            out.append(l).append('\n');
        }
        System.out.print(out);
    }

    static void options(String cls, ClassLoader loader, Class<?> optionClass, TreeMap<String, String> lines) {
        Class<?> c;
        Field[] fields;
        try {
            c = Class.forName(cls, false, loader);
            fields = c.getDeclaredFields();
        } catch (Throwable t) {
            return;
        }
        for (Field f : fields) {
            int m = f.getModifiers();
            if (!Modifier.isStatic(m) || !Modifier.isPublic(m) || !optionClass.isAssignableFrom(f.getType())) {
                continue;
            }
            Object o;
            try {
                o = f.get(null);
            } catch (Throwable t) {
                continue;
            }
            if (o == null) {
                continue;
            }
            try {
                String key = (String) call(o, "key");
                boolean deprecated = f.isAnnotationPresent(Deprecated.class) || c.isAnnotationPresent(Deprecated.class);
                String line = String.join("\t", key, type(o), dflt(o), deprecated ? "d" : "", fallbacks(o));
                // The same key defined twice (an alias class): the non-deprecated definition wins.
                String prev = lines.get(key);
                if (prev == null || (prev.split("\t", -1)[3].equals("d") && !deprecated)) {
                    lines.put(key, line);
                }
            } catch (Throwable t) {
                // An option this release cannot describe is left out.
            }
        }
    }

    static String type(Object o) {
        try {
            Field clazz = field(o.getClass(), "clazz");
            if (clazz != null) {
                clazz.setAccessible(true);
                Class<?> t = (Class<?>) clazz.get(o);
                Field isList = field(o.getClass(), "isList");
                boolean list = false;
                if (isList != null) {
                    isList.setAccessible(true);
                    list = (Boolean) isList.get(o);
                }
                String n = t == null ? "" : t.getSimpleName();
                return list ? "List<" + n + ">" : n;
            }
        } catch (Throwable t) {
            // fall through: the type of the default
        }
        try {
            Object d = call(o, "defaultValue");
            return d == null ? "" : d.getClass().getSimpleName();
        } catch (Throwable t) {
            return "";
        }
    }

    static String dflt(Object o) {
        try {
            if (!(Boolean) call(o, "hasDefaultValue")) {
                return "";
            }
            Object d = call(o, "defaultValue");
            String s = d == null ? "" : show(d);
            return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n");
        } catch (Throwable t) {
            return "";
        }
    }

    /** Durations and memory sizes as a person writes them in the configuration. */
    static String show(Object d) {
        if (d instanceof java.time.Duration) {
            java.time.Duration du = (java.time.Duration) d;
            long ms = du.toMillis();
            if (ms % 3_600_000 == 0 && ms != 0) return ms / 3_600_000 + " h";
            if (ms % 60_000 == 0 && ms != 0) return ms / 60_000 + " min";
            if (ms % 1000 == 0) return ms / 1000 + " s";
            return ms + " ms";
        }
        if (d.getClass().getName().equals("org.apache.flink.configuration.MemorySize")) {
            try {
                long b = (Long) call(d, "getBytes");
                if (b % (1L << 30) == 0 && b != 0) return (b >> 30) + "g";
                if (b % (1L << 20) == 0 && b != 0) return (b >> 20) + "m";
                if (b % (1L << 10) == 0 && b != 0) return (b >> 10) + "k";
                return b + "b";
            } catch (Throwable t) {
                return d.toString();
            }
        }
        if (d instanceof List) {
            List<String> parts = new ArrayList<>();
            for (Object x : (List<?>) d) parts.add(show(x));
            return String.join(";", parts);
        }
        if (d instanceof Enum) {
            return ((Enum<?>) d).name();
        }
        return String.valueOf(d);
    }

    static String fallbacks(Object o) {
        List<String> out = new ArrayList<>();
        try {
            Object fks = call(o, "fallbackKeys");
            for (Object fk : (Iterable<?>) fks) {
                String k = (String) call(fk, "getKey");
                boolean dep = (Boolean) call(fk, "isDeprecated");
                out.add(dep ? k : "=" + k);
            }
        } catch (Throwable t) {
            try {
                for (Object k : (Iterable<?>) call(o, "deprecatedKeys")) {
                    out.add(String.valueOf(k));
                }
            } catch (Throwable t2) {
                // none
            }
        }
        return String.join(",", out);
    }

    static Object call(Object o, String name) throws Exception {
        Method m = o.getClass().getMethod(name);
        m.setAccessible(true);
        return m.invoke(o);
    }

    static Field field(Class<?> c, String name) {
        for (Class<?> k = c; k != null; k = k.getSuperclass()) {
            try {
                return k.getDeclaredField(name);
            } catch (NoSuchFieldException e) {
                // superclass next
            }
        }
        return null;
    }

    static byte[] readAll(InputStream in) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] buf = new byte[65536];
        int n;
        while ((n = in.read(buf)) > 0) b.write(buf, 0, n);
        return b.toByteArray();
    }

    static boolean contains(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) continue outer;
            }
            return true;
        }
        return false;
    }
}
