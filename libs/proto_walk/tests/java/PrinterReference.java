// ThingsBoard's own way from protobuf bytes to JSON, for message_walk_java_test: the message is
// parsed as a DynamicMessage, printed by protobuf-java's JsonFormat with default values
// included, and read back by Gson, whose toString() is the text ThingsBoard keeps of a JSON
// value. Arguments: a FileDescriptorSet file (one file, no imports). Standard input: lines
// "<message name> <Base64 of its bytes>"; standard output: one line each, the text, or
// "unparsable".
import com.google.gson.JsonParser;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.util.JsonFormat;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Base64;

public class PrinterReference {
    public static void main(String[] args) throws Exception {
        FileDescriptorSet set = FileDescriptorSet.parseFrom(Files.readAllBytes(Paths.get(args[0])));
        FileDescriptor file = FileDescriptor.buildFrom(set.getFile(0), new FileDescriptor[0]);
        JsonFormat.Printer printer = JsonFormat.printer().includingDefaultValueFields();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        String line;
        while ((line = in.readLine()) != null) {
            int space = line.indexOf(' ');
            Descriptor type = file.findMessageTypeByName(line.substring(0, space));
            byte[] bytes = Base64.getDecoder().decode(line.substring(space + 1));
            try {
                out.println(JsonParser.parseString(printer.print(DynamicMessage.parseFrom(type, bytes))).toString());
            } catch (Exception e) {
                out.println("unparsable");
            }
        }
        out.flush();
    }
}
