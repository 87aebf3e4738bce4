package dev.backprop4j.docs;

import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a project depending on backprop4j as a library gets: the core (JCuda for the GPU, Gson for safetensors), not
 * the command line's picocli, progress bar and charts, not Spark (provided by spark-submit), and never JUnit (pdfbox,
 * under xchart, declares it unscoped).
 */
class DependencyTest {

    private static Map<String, Element> dependencies() throws Exception {
        Document pom = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(Path.of("pom.xml").toFile());
        Element project = pom.getDocumentElement();
        Element deps = (Element) project.getElementsByTagName("dependencies").item(0);
        Map<String, Element> out = new HashMap<>();
        NodeList list = deps.getChildNodes();
        for (int i = 0; i < list.getLength(); i++) {
            if (list.item(i) instanceof Element d && d.getTagName().equals("dependency")) {
                out.put(text(d, "groupId") + ":" + text(d, "artifactId"), d);
            }
        }
        return out;
    }

    private static String text(Element e, String tag) {
        NodeList n = e.getElementsByTagName(tag);
        return n.getLength() == 0 ? "" : n.item(0).getTextContent().trim();
    }

    @Test
    void libraryUsersGetOnlyTheCoreDependencies() throws Exception {
        Set<String> cliOnly = Set.of("info.picocli:picocli", "me.tongfei:progressbar", "org.knowm.xchart:xchart");
        for (Map.Entry<String, Element> e : dependencies().entrySet()) {
            String scope = text(e.getValue(), "scope");
            boolean optional = text(e.getValue(), "optional").equals("true");
            if (cliOnly.contains(e.getKey())) {
                assertTrue(optional, e.getKey() + " is for the command line only: mark it optional");
            } else if (e.getKey().startsWith("org.apache.spark:")
                    || e.getKey().equals("org.apache.hadoop:hadoop-client-api")) {
                assertEquals("provided", scope, e.getKey() + " comes with spark-submit: scope provided");
            } else if (!scope.equals("test")) {
                assertTrue(Set.of("org.jcuda:jcuda", "org.jcuda:jcublas", "org.jcuda:jcuda-natives",
                        "org.jcuda:jcublas-natives", "com.google.code.gson:gson").contains(e.getKey()),
                        e.getKey() + " reaches every library user: justify it in the README and here");
            }
        }
    }

    @Test
    void junitNeverLeaksThroughXchart() throws Exception {
        Element xchart = dependencies().get("org.knowm.xchart:xchart");
        NodeList exclusions = xchart.getElementsByTagName("exclusion");
        boolean excluded = false;
        for (int i = 0; i < exclusions.getLength(); i++) {
            Element x = (Element) exclusions.item(i);
            excluded |= text(x, "groupId").equals("org.junit.jupiter") && text(x, "artifactId").equals("junit-jupiter");
        }
        assertTrue(excluded, "exclude org.junit.jupiter:junit-jupiter from xchart (pdfbox 3.0.1 declares it unscoped)");
        assertEquals("test", text(dependencies().get("org.junit.jupiter:junit-jupiter"), "scope"));
    }
}
