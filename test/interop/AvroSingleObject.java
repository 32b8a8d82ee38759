import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;

/**
 * Apache Avro's own single-object codec (the Java library), on meterflow's topic values: what a
 * Flink DeserializationSchema, a Kafka Connect converter or any JVM consumer would call.
 *
 *   AvroSingleObject <reader.avsc> <in.bin> <out.bin> [<older writer.avsc> ...]
 *
 * decodes in.bin (a framed value) into the reader schema, resolving from the older writer schemas
 * it is given, prints the record as JSON, and writes it back to out.bin framed by Avro itself.
 */
public class AvroSingleObject {
  public static void main(String[] args) throws Exception {
    Schema reader = new Schema.Parser().parse(Files.readString(Path.of(args[0])));
    BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(GenericData.get(), reader);
    for (int i = 3; i < args.length; i++) {
      decoder.addSchema(new Schema.Parser().parse(Files.readString(Path.of(args[i]))));
    }
    GenericRecord record = decoder.decode(ByteBuffer.wrap(Files.readAllBytes(Path.of(args[1]))));
    System.out.println(GenericData.get().toString(record));
    ByteBuffer out = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), reader).encode(record);
    byte[] bytes = new byte[out.remaining()];
    out.get(bytes);
    Files.write(Path.of(args[2]), bytes);
  }
}
