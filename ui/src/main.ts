// Entry point: mounts the desk.
import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";
import { applyTheme } from "./lib/prefs";

applyTheme();

mount(App, { target: document.getElementById("app")! });
