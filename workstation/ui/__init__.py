"""The Textual workstation: the app, its panes and screens. It talks to the engine only
through ``workstation.api.EngineAPI`` (in process or over the socket); nothing outside this
package (and ``themes``) imports Textual."""
