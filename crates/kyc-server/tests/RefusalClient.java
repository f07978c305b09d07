// Java's HttpClient (java.net.http, what Ditto ID's IDV Server runs) as the sender of a body the
// receiver refuses before reading it: posts 5 MB and prints the status and the JSON error code,
// or the exception it got instead ("failed IOException" is the broken pipe of issue 13 §1).
//
// usage: java RefusalClient.java URL CA_PEM CONTENT_TYPE AUTHORIZATION   (JDK 11+, no build step)

import java.io.FileInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class RefusalClient {
    public static void main(String[] args) throws Exception {
        String url = args[0], ca = args[1], contentType = args[2], authorization = args[3];
        // Trust exactly the receiver's certificate (host names are verified as usual).
        KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
        trusted.load(null, null);
        try (FileInputStream in = new FileInputStream(ca)) {
            trusted.setCertificateEntry("kyc-desk", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trusted);
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(null, tmf.getTrustManagers(), null);
        HttpClient client = HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(10)).build();

        byte[] body = new byte[5 * 1024 * 1024];
        Arrays.fill(body, (byte) 'x');
        HttpRequest request = HttpRequest.newBuilder(URI.create(url))
                .timeout(Duration.ofSeconds(60))
                .header("Content-Type", contentType)
                .header("Authorization", authorization)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        try {
            HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
            Matcher code = Pattern.compile("\"error\"\\s*:\\s*\"([^\"]*)\"").matcher(response.body());
            System.out.println(response.statusCode() + " " + (code.find() ? code.group(1) : "?"));
        } catch (Exception e) { // a broken pipe or a reset: the refusal never reached the sender
            System.out.println("failed " + e.getClass().getSimpleName());
        }
    }
}
