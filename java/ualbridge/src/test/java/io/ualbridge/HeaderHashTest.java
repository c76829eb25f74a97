package io.ualbridge;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

import org.junit.jupiter.api.Test;

/** The generated bindings must match the header they were generated from. */
class HeaderHashTest {

    static byte[] resource(String name) throws IOException {
        try (InputStream in = HeaderHashTest.class.getResourceAsStream(name)) {
            assertThat(in).as("class path resource " + name).isNotNull();
            return in.readAllBytes();
        }
    }

    @Test
    void bindingsMatchTheHeader() throws IOException, NoSuchAlgorithmException {
        String recorded = new String(resource("/io/ualbridge/internal/ual.h.sha256"), StandardCharsets.US_ASCII).trim();
        byte[] header = resource("/io/ualbridge/header/ual.h");
        String actual = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(header));
        assertThat(actual)
                .as("native/include/ual.h changed since the bindings in io.ualbridge.internal were generated: "
                        + "run scripts/jextract.sh and commit the regenerated bindings")
                .isEqualTo(recorded);
    }
}
