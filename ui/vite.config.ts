import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The same build runs in the desktop window and in browsers, served by the review listener.
export default defineConfig({
  plugins: [svelte()],
  build: { outDir: "dist", emptyOutDir: true, target: "es2020" },
  server: { proxy: { "/api": "http://127.0.0.1:8700" } },
});
