mod hub;
mod upstream;
