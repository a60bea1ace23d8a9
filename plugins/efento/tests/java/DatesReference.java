// The JDK's spelling of the two Efento date texts ThingsBoard stores, for dates_java_test.cpp:
// reads Unix seconds (one per line) from stdin and prints, per line, the local date
// ("dd MMM yyyy HH:mm:ss Z" in the JVM's default zone, from TZ) and the UTC time
// ("yyyy-MM-dd HH:mm:ss" + " UTC") of that second, separated by a tab.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.text.SimpleDateFormat;
import java.util.Date;
import java.util.Locale;
import java.util.TimeZone;

public class DatesReference {
    public static void main(String[] args) throws Exception {
        SimpleDateFormat local = new SimpleDateFormat("dd MMM yyyy HH:mm:ss Z", Locale.ENGLISH);
        SimpleDateFormat utc = new SimpleDateFormat("yyyy-MM-dd HH:mm:ss", Locale.ENGLISH);
        utc.setTimeZone(TimeZone.getTimeZone("UTC"));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        StringBuilder out = new StringBuilder();
        for (String line; (line = in.readLine()) != null; ) {
            if (line.isEmpty()) continue;
            Date d = new Date(Long.parseLong(line) * 1000L);
            out.append(local.format(d)).append('\t').append(utc.format(d)).append(" UTC\n");
        }
        System.out.print(out);
    }
}
